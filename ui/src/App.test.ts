import { fireEvent, render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { BackendError, backend, type OpenKey } from "$lib/backend";
import { vocabulary } from "$lib/vocabulary";
import { AppState } from "$lib/app.svelte";
import type { MockedBackend } from "./test/backend-mock";
import {
  detail,
  generated,
  keysView,
  legacyKey,
  renderWithApp,
  rotation,
  rotationCheck,
  session,
  startup,
} from "./test/fixtures";
import KeyReveal from "$lib/components/KeyReveal.svelte";
import App from "./App.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("./test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;
// A key's page shows its history; these tests are about the rest of it.
beforeEach(() => {
  api.activity.mockResolvedValue({ entries: [], nextBefore: null });
  api.onOpenKey.mockResolvedValue(() => {});
});

/** Renders the app on the keys of `ws_harbor` and answers the shell's "open this key". */
async function openedBy(key: OpenKey): Promise<AppState> {
  api.listKeys.mockResolvedValue(keysView());
  api.keyDetail.mockResolvedValue(detail());
  const state = new AppState({ startup: startup() });
  render(App, { props: { state } });
  expect(await screen.findByTestId("key-count")).toBeInTheDocument();
  const handler = api.onOpenKey.mock.calls[0]?.[0];
  expect(handler, "the app listens to the shell").toBeDefined();
  handler?.(key);
  return state;
}

describe("the app", () => {
  it("goes straight to the keys when the back end restored a session", async () => {
    api.startup.mockResolvedValue(startup());
    api.listKeys.mockResolvedValue(keysView());
    render(App);
    expect(screen.getByText("Opening Keydeck…")).toBeInTheDocument();
    expect(await screen.findByTestId("key-count")).toHaveTextContent("7 of 10 keys");
    expect(document.documentElement.dataset.theme).toBe("system");
  });

  it("takes the start-up request main.ts already sent, with the keys it brought", async () => {
    render(App, { props: { startup: Promise.resolve(startup({ keys: keysView() })) } });
    expect(await screen.findByTestId("key-count")).toHaveTextContent("7 of 10 keys");
    expect(api.startup).not.toHaveBeenCalled();
    expect(api.listKeys).not.toHaveBeenCalled();
  });

  it("starts on the start screen without a session, in the saved theme", async () => {
    api.startup.mockResolvedValue(
      startup({
        session: undefined,
        settings: { ...vocabulary.defaultSettings, theme: "dark" },
      }),
    );
    render(App);
    expect(await screen.findByTestId("open-demo")).toBeInTheDocument();
    expect(document.documentElement.dataset.theme).toBe("dark");
  });

  it("says so when the back end couldn't start, with a retry", async () => {
    api.startup.mockRejectedValueOnce(
      new BackendError({ code: "other", message: "The data folder is read-only." }),
    );
    render(App);
    expect(await screen.findByText("The data folder is read-only.")).toBeInTheDocument();
    api.startup.mockResolvedValue(startup({ session: undefined }));
    await fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByTestId("open-demo")).toBeInTheDocument();
  });

  it("asks to sign in again when the session ended, then returns to the same screen", async () => {
    const user = userEvent.setup();
    api.keyDetail.mockRejectedValueOnce(
      new BackendError({ code: "signed_out", message: "Your session has ended. Sign in again to carry on." }),
    );
    const state = new AppState({ startup: startup(), screen: { name: "key", keyId: "k1" } });
    render(App, { props: { state } });

    const dialog = await screen.findByRole("dialog", { name: "Sign in again" });
    expect(dialog).toHaveTextContent("Your session has ended. Sign in again to carry on.");
    expect(screen.getByTestId("signin-server")).toHaveValue("https://keys.example.com");
    expect(screen.getByTestId("signin-email")).toHaveValue("owner@example.com");
    await vi.waitFor(() => expect(screen.getByTestId("signin-password")).toHaveFocus());

    api.signIn.mockResolvedValue(session());
    api.keyDetail.mockResolvedValue(detail());
    await user.type(screen.getByTestId("signin-password"), "keydeck-demo");
    await user.click(screen.getByTestId("signin-submit"));

    expect(await screen.findByRole("heading", { level: 1, name: "Zapier" })).toBeInTheDocument();
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(state.screen).toEqual({ name: "key", keyId: "k1" });
  });

  it("resumes an interrupted rotation from the keys screen and comes back when it's done", async () => {
    const user = userEvent.setup();
    const state = new AppState({ startup: startup() });
    api.listKeys.mockResolvedValue(keysView(undefined, { rotations: [rotation("confirmed")] }));
    api.resumeRotation.mockResolvedValue({ rotation: rotation("confirmed") });
    api.checkRotation.mockResolvedValue(rotationCheck(rotation("confirmed")));
    render(App, { props: { state } });

    await user.click(await screen.findByTestId("rotation-resume"));
    const wizard = await screen.findByTestId("rotation-wizard");
    await vi.waitFor(() => expect(wizard).toHaveAttribute("data-step", "4"));
    api.finishRotation.mockResolvedValue(rotation("done"));
    await user.type(screen.getByTestId("rotation-revoke-input"), "Legacy BI");
    await user.click(screen.getByTestId("rotation-revoke-submit"));
    expect(await screen.findByTestId("rotation-done")).toBeInTheDocument();

    api.listKeys.mockResolvedValue(keysView());
    await user.click(screen.getByTestId("rotation-close"));
    expect(await screen.findByTestId("key-count")).toBeInTheDocument();
    expect(screen.queryByTestId("rotation-resume-banner")).not.toBeInTheDocument();
  });

  it("leaves a key's guided screens for the keys when the workspace changes", async () => {
    api.keyCard.mockResolvedValue(legacyKey());
    api.listKeys.mockResolvedValue(keysView());
    const state = new AppState({
      startup: startup(),
      screen: { name: "rotate", keyIds: ["k6"], reason: "scheduled" },
    });
    render(App, { props: { state } });
    expect(await screen.findByTestId("rotation-wizard")).toBeInTheDocument();
    state.enterSession(session({ workspaceId: "ws_cedar" }));
    await vi.waitFor(() => expect(screen.queryByTestId("rotation-wizard")).not.toBeInTheDocument());
    expect(state.screen).toEqual({ name: "keys" });
  });

  it("opens the key a reminder or the tray's menu names", async () => {
    const state = await openedBy({ workspaceId: "ws_harbor", keyId: "k2" });
    await vi.waitFor(() => expect(state.screen).toEqual({ name: "key", keyId: "k2" }));
    expect(api.keyDetail).toHaveBeenCalledWith("k2");
    expect(api.switchWorkspace).not.toHaveBeenCalled();
  });

  it("switches to the reminder's workspace first when another one is open", async () => {
    api.switchWorkspace.mockResolvedValue(session({ workspaceId: "ws_alex" }));
    const state = await openedBy({ workspaceId: "ws_alex", keyId: "k9" });
    await vi.waitFor(() => expect(state.screen).toEqual({ name: "key", keyId: "k9" }));
    expect(api.switchWorkspace).toHaveBeenCalledWith(session().account.id, "ws_alex");
  });

  it("says so, and stays, when the key is another account's", async () => {
    const state = await openedBy({ workspaceId: "ws_elsewhere", keyId: "k9" });
    expect(await screen.findByTestId("notice")).toHaveTextContent(
      "That reminder is about a key of another account. Switch to that account to open it.",
    );
    expect(state.screen).toEqual({ name: "keys" });
  });

  it("leaves a new key's one reveal on screen, and opens the key once it is closed", async () => {
    const state = await openedBy({ workspaceId: "ws_harbor", keyId: "k2" });
    await vi.waitFor(() => expect(state.screen).toEqual({ name: "key", keyId: "k2" }));
    state.screen = { name: "keys" };
    const reveal = renderWithApp(KeyReveal, { result: generated() }, state);
    await state.openKey({ workspaceId: "ws_harbor", keyId: "k3" });
    expect(state.screen).toEqual({ name: "keys" });
    expect(state.notice).toBe(
      "A new key is on screen, shown only this once. Close it with Done, then open the reminder again.",
    );
    reveal.unmount();
    await state.openKey({ workspaceId: "ws_harbor", keyId: "k3" });
    expect(state.screen).toEqual({ name: "key", keyId: "k3" });
  });

  it("asks to sign in when no one is signed in", async () => {
    const state = new AppState({ startup: startup({ session: undefined }) });
    await state.openKey({ workspaceId: "ws_harbor", keyId: "k3" });
    expect(state.screen).toEqual({ name: "start" });
    expect(state.notice).toBe("Sign in to open the key that reminder is about.");
  });
});
