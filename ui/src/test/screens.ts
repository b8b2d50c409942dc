// Opening the screen of one key (k1) in a test: its detail answered by the mocked back end, in
// the app context, once its title shows. For test files that mock $lib/backend with
// backend-mock.ts.
import { screen, type ByRoleOptions } from "@testing-library/svelte";
import type { Component } from "svelte";
import { backend, type KeyDetail } from "$lib/backend";
import type { Screen } from "$lib/app.svelte";
import type { MockedBackend } from "./backend-mock";
import { appState, renderWithApp } from "./fixtures";

export async function openKeyScreen(
  component: Component<{ keyId: string }>,
  on: Screen,
  d: KeyDetail,
  heading: ByRoleOptions = {},
) {
  (backend as unknown as MockedBackend).keyDetail.mockResolvedValue(d);
  const r = renderWithApp(component, { keyId: "k1" }, appState({ screen: on }));
  await screen.findByRole("heading", { level: 1, ...heading });
  return r;
}
