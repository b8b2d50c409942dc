import { fireEvent, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BackendError, backend } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import { ago, appState, generated, renderWithApp, report, startup, view } from "../../test/fixtures";
import ZapierScreen from "./ZapierScreen.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

const SECRET = "kdk_Zq8mN3pLx7TfR2vWc9YbK4hJd6Gs1Ae5Qu0oPi";
const unused = () =>
  view({ id: "k_zap", name: "Zapier", lastUsedAt: null, requestCount: 0 }, { inKeychain: true });

function zapierKey() {
  return generated({ key: unused(), keychain: { service: "keydeck", account: "ws_harbor/Zapier" } });
}

afterEach(() => {
  vi.useRealTimers();
});

async function createKey(state = appState()) {
  api.generateKey.mockResolvedValue(zapierKey());
  api.keyCard.mockResolvedValue(unused());
  const r = renderWithApp(ZapierScreen, {}, state);
  await fireEvent.click(screen.getByTestId("zapier-create"));
  await vi.waitFor(() => expect(screen.getByTestId("revealed-secret")).toBeInTheDocument());
  return r;
}

describe("connect Zapier", () => {
  it("makes a key with Zapier's permissions and says what to paste where", async () => {
    api.copyText.mockResolvedValue(undefined);
    renderWithApp(ZapierScreen, {});
    expect(screen.getByRole("heading", { level: 1, name: "Connect Zapier" })).toBeInTheDocument();
    expect(screen.getByTestId("zapier-name")).toHaveValue("Zapier");
    expect(screen.getByText("Read people")).toBeInTheDocument();
    expect(screen.getByText("180 days after it is made")).toBeInTheDocument();
    // No address limit (the request below has no allowedIps), and the screen says why.
    expect(screen.getByTestId("zapier-addresses")).toHaveTextContent(
      "Zapier calls from addresses that change",
    );

    api.generateKey.mockResolvedValue(zapierKey());
    api.keyCard.mockResolvedValue(unused());
    await fireEvent.click(screen.getByTestId("zapier-create"));
    await vi.waitFor(() => expect(screen.getByTestId("revealed-secret")).toBeInTheDocument());
    expect(api.generateKey).toHaveBeenCalledWith({
      name: "Zapier",
      purpose: "zapier",
      scopes: ["time_entries:read", "time_entries:write", "employees:read", "projects:read"],
      expiresInDays: 180,
      rateLimit: { enabled: true, maxRequests: 100, windowSeconds: 60 },
      storeInKeychain: true,
    });
    expect(screen.getByTestId("revealed-secret")).toHaveTextContent(SECRET);

    const steps = screen.getByRole("region", { name: "2. Paste it into Zapier" });
    expect(steps).toHaveTextContent(
      "In the API Key field, paste the key “Zapier” (kdk_…9xQz). It's on your clipboard now.",
    );
    expect(within(steps).getByTestId("zapier-workspace-id")).toHaveTextContent("ws_harbor");
    expect(steps).toHaveTextContent("http://127.0.0.1:8080/api/v1");
    await fireEvent.click(within(steps).getByRole("button", { name: "Copy Workspace ID" }));
    expect(api.copyText).toHaveBeenCalledWith("ws_harbor");

    expect(screen.getByTestId("zapier-waiting")).toHaveTextContent("Waiting for Zapier to connect…");
    expect(screen.queryByTestId("zapier-help")).not.toBeInTheDocument();
  });

  it("says “Zapier is connected” once a request with the key succeeds, and stops watching", async () => {
    vi.useFakeTimers();
    await createKey();
    await vi.advanceTimersByTimeAsync(2000);
    expect(api.keyCard).toHaveBeenCalledWith("k_zap");
    expect(screen.queryByTestId("zapier-connected")).not.toBeInTheDocument();

    const usedAt = new Date(Date.now() - 3000).toISOString();
    api.keyCard.mockResolvedValue(view({ id: "k_zap", name: "Zapier", lastUsedAt: usedAt, requestCount: 1 }));
    await vi.advanceTimersByTimeAsync(2000);

    expect(screen.getByTestId("zapier-connected")).toHaveTextContent("Zapier is connected");
    expect(screen.getByTestId("zapier-connected")).toHaveTextContent(
      "Zapier's request with the key succeeded 5 seconds ago",
    );
    expect(screen.queryByTestId("zapier-waiting")).not.toBeInTheDocument();
    // The secret leaves the window once it has done its job.
    expect(document.body.textContent).not.toContain(SECRET);

    const calls = api.keyCard.mock.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.keyCard.mock.calls.length).toBe(calls);
  });

  it("never says connected while Zapier's requests are refused, and says what to fix in Zapier", async () => {
    vi.useFakeTimers();
    await createKey();
    const triedAt = new Date(Date.now() - 4000).toISOString();
    // Zapier sent the key with another workspace's ID: used, refused, never a success.
    api.keyCard.mockResolvedValue(
      view(
        {
          id: "k_zap",
          name: "Zapier",
          lastUsedAt: triedAt,
          lastSuccessAt: null,
          lastRefusal: { at: triedAt, error: "workspace_mismatch", status: 403 },
          requestCount: 1,
        },
        {
          refusal: {
            at: triedAt,
            error: "workspace_mismatch",
            status: 403,
            cause: "sent another workspace's ID with it",
            fix: "Paste ws_harbor into the Workspace ID field, then try again.",
          },
        },
      ),
    );
    await vi.advanceTimersByTimeAsync(2000);
    expect(screen.queryByTestId("zapier-connected")).not.toBeInTheDocument();
    expect(screen.getByTestId("zapier-waiting")).toBeInTheDocument();
    const refused = screen.getByTestId("zapier-refused");
    expect(refused).toHaveTextContent(/Zapier tried the key at .* but sent another workspace's ID with it\./);
    expect(refused).toHaveTextContent("Paste ws_harbor into the Workspace ID field, then try again.");
    // Keydeck keeps watching: fixed in Zapier, the next success connects.
    api.keyCard.mockResolvedValue(
      view({ id: "k_zap", name: "Zapier", lastUsedAt: ago(1000), requestCount: 2 }),
    );
    await vi.advanceTimersByTimeAsync(2000);
    expect(screen.getByTestId("zapier-connected")).toHaveTextContent("Zapier is connected");
    expect(screen.queryByTestId("zapier-refused")).not.toBeInTheDocument();
  });

  it("offers help after 3 minutes without a request, tests the key as pasted in Zapier, and keeps waiting", async () => {
    vi.useFakeTimers();
    await createKey();
    await vi.advanceTimersByTimeAsync(179_000);
    expect(screen.queryByTestId("zapier-help")).not.toBeInTheDocument();
    await vi.advanceTimersByTimeAsync(1000);
    const help = screen.getByTestId("zapier-help");
    expect(help).toHaveTextContent("Zapier says the key is invalid?");

    api.testKey.mockResolvedValue(
      report({
        verdict: "problem",
        title: "3 characters are missing",
        detail: "The key is 39 characters long; a Keydeck key has 42.",
        action: "Copy the whole key again from Keydeck and paste it into Zapier.",
        budget: undefined,
      }),
    );
    await fireEvent.input(within(help).getByTestId("zapier-test-input"), {
      target: { value: SECRET.slice(0, 39) },
    });
    await fireEvent.click(within(help).getByTestId("zapier-test-submit"));
    expect(api.testKey).toHaveBeenCalledWith({ source: "pasted", key: SECRET.slice(0, 39) });
    await vi.waitFor(() =>
      expect(within(help).getByTestId("test-verdict")).toHaveTextContent("3 characters are missing"),
    );
    expect(help).toHaveTextContent("Copy the whole key again from Keydeck");

    const calls = api.keyCard.mock.calls.length;
    await vi.advanceTimersByTimeAsync(2000);
    expect(api.keyCard.mock.calls.length).toBe(calls + 1);
    expect(screen.getByTestId("zapier-waiting")).toBeInTheDocument();
  });

  it("stops watching when the screen closes", async () => {
    vi.useFakeTimers();
    const { unmount } = await createKey();
    await vi.advanceTimersByTimeAsync(4000);
    const calls = api.keyCard.mock.calls.length;
    unmount();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.keyCard.mock.calls.length).toBe(calls);
  });

  it("shows the server's message at the name and keeps what was typed", async () => {
    const user = userEvent.setup();
    api.generateKey.mockRejectedValue(
      new BackendError({
        code: "validation",
        message: "Some fields need attention.",
        fields: [{ field: "name", message: "Use at least 3 characters." }],
      }),
    );
    renderWithApp(ZapierScreen, {});
    const name = screen.getByTestId("zapier-name");
    await user.clear(name);
    await user.type(name, "Z");
    await user.click(screen.getByTestId("zapier-create"));

    expect(api.generateKey).toHaveBeenCalledWith(expect.objectContaining({ name: "Z" }));
    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(name).toHaveAccessibleDescription("Use at least 3 characters.");
    expect(name).toHaveValue("Z");
  });

  it("makes the key clipboard-only when this computer has no keychain", async () => {
    await createKey(appState({ startup: startup({ keychainAvailable: false }) }));
    expect(api.generateKey).toHaveBeenCalledWith(expect.objectContaining({ storeInKeychain: false }));
  });
});
