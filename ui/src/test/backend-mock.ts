// Replaces the `backend` object of $lib/backend with one vi.fn() per command, keeping the
// real BackendError and types. Use in a test file:
//
//   vi.mock("$lib/backend", async (original) =>
//     (await import("../../test/backend-mock")).mockBackendModule(await original()));
import { vi, type Mock } from "vitest";
import type * as BackendModule from "$lib/backend";

type Real = typeof BackendModule;
export type MockedBackend = { [K in keyof Real["backend"]]: Mock<Real["backend"][K]> };

export function mockBackendModule(actual: Real): Real & { backend: MockedBackend } {
  const backend = Object.fromEntries(Object.keys(actual.backend).map((name) => [name, vi.fn()]));
  return { ...actual, backend: backend as MockedBackend };
}
