import { fireEvent, screen, within } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BackendError, backend } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import {
  ago,
  appState,
  demoKeys,
  keysView,
  renderWithApp,
  rotation,
  session,
  startup,
  view,
  workspace,
  DAY,
} from "../../test/fixtures";
import KeysScreen from "./KeysScreen.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

function cardNames(): string[] {
  return screen.getAllByTestId("key-card").map((c) => c.dataset.keyName ?? "");
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the keys screen", () => {
  it("shows the workspace, one card per key and how many of the limit are used", async () => {
    api.listKeys.mockResolvedValue(keysView());
    renderWithApp(KeysScreen, {});

    expect(await screen.findByTestId("key-count")).toHaveTextContent("7 of 10 keys");
    expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Harbor Design Co.");
    expect(cardNames()).toEqual([
      "Zapier",
      "Reporting dashboard",
      "Old payroll sync",
      "Q3 export",
      "Finance sync",
      "Legacy BI",
      "Sam's script",
    ]);
  });

  it("shows the keys fetched at start without asking again, then refreshes as usual", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    api.listKeys.mockResolvedValue(keysView());
    const state = appState({ startup: startup({ keys: keysView(demoKeys().slice(0, 2)) }) });
    renderWithApp(KeysScreen, {}, state);

    expect(await screen.findByTestId("key-count")).toHaveTextContent("2 of 10 keys");
    expect(api.listKeys).not.toHaveBeenCalled();
    // Taken once: the next refresh asks the back end.
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.listKeys).toHaveBeenCalled();
    expect(await screen.findByText("7 of 10 keys")).toBeInTheDocument();
  });

  it("filters the cards and counts each filter", async () => {
    api.listKeys.mockResolvedValue(keysView());
    renderWithApp(KeysScreen, {});
    await screen.findAllByTestId("key-card");

    const counts = Object.fromEntries(
      ["all", "active", "disabled", "expired", "never_used", "rotation_due"].map((id) => [
        id,
        screen.getByTestId(`filter-${id}`).textContent?.replace(/\s+/g, " ").trim(),
      ]),
    );
    expect(counts).toEqual({
      all: "All 7",
      active: "Active 5",
      disabled: "Disabled 1",
      expired: "Expired 1",
      never_used: "Never used 1",
      rotation_due: "Rotation due 1",
    });

    await fireEvent.click(screen.getByTestId("filter-disabled"));
    expect(screen.getByTestId("filter-disabled")).toHaveAttribute("aria-pressed", "true");
    expect(cardNames()).toEqual(["Old payroll sync"]);

    await fireEvent.click(screen.getByTestId("filter-never_used"));
    expect(cardNames()).toEqual(["Reporting dashboard"]);

    await fireEvent.click(screen.getByTestId("filter-rotation_due"));
    expect(cardNames()).toEqual(["Legacy BI"]);

    await fireEvent.click(screen.getByTestId("filter-all"));
    expect(cardNames()).toHaveLength(7);
  });

  it("keeps the last cards with a stale banner when the server can't be reached, and retries", async () => {
    const fetchedAt = new Date(2026, 10, 24, 14, 32, 5).toISOString();
    api.listKeys.mockResolvedValueOnce(
      keysView(undefined, {
        stale: true,
        fetchedAt,
        staleReason: "The server at 127.0.0.1:8080 didn't answer.",
      }),
    );
    renderWithApp(KeysScreen, {});

    const banner = await screen.findByTestId("stale-banner");
    expect(banner).toHaveTextContent("Can't reach the server — showing cards from 2:32:05 PM");
    expect(banner).toHaveTextContent("The server at 127.0.0.1:8080 didn't answer.");
    expect(screen.getAllByTestId("key-card")).toHaveLength(7);

    api.listKeys.mockResolvedValueOnce(keysView());
    await fireEvent.click(within(banner).getByRole("button", { name: /Retry/ }));
    await vi.waitFor(() => expect(screen.queryByTestId("stale-banner")).not.toBeInTheDocument());
    expect(api.listKeys).toHaveBeenCalledTimes(2);
  });

  it("refreshes the cards every 5 seconds so “last used” stays live", async () => {
    vi.useFakeTimers();
    api.listKeys.mockResolvedValueOnce(keysView([view({ lastUsedAt: null, requestCount: 0 })]));
    renderWithApp(KeysScreen, {});
    await vi.waitFor(() => expect(screen.getByTestId("key-card")).toHaveTextContent("Never used"));

    api.listKeys.mockResolvedValue(
      keysView([view({ lastUsedAt: new Date().toISOString(), requestCount: 1 })]),
    );
    await vi.advanceTimersByTimeAsync(5000);
    expect(screen.getByTestId("key-card")).toHaveTextContent("Last used 5 seconds ago · 1 request");
    expect(api.listKeys).toHaveBeenCalledTimes(2);
  });

  it("explains a plan without API access instead of showing cards, with a way out", async () => {
    const state = appState({
      startup: startup({ session: session({ workspaceId: "ws_alex" }) }),
    });
    renderWithApp(KeysScreen, {}, state);

    expect(
      screen.getByRole("heading", {
        name: "Alex Morgan Studio is on the Solo Pro plan, which doesn't include API access",
      }),
    ).toBeInTheDocument();
    expect(screen.getByText(/API keys come with the Team and Business plans/)).toBeInTheDocument();
    expect(screen.queryByTestId("generate-open")).not.toBeInTheDocument();
    expect(api.listKeys).not.toHaveBeenCalled();

    api.switchWorkspace.mockResolvedValue(session());
    await fireEvent.click(screen.getByRole("button", { name: "Go to Harbor Design Co." }));
    expect(api.switchWorkspace).toHaveBeenCalledWith(
      "owner@example.com@https://keys.example.com",
      "ws_harbor",
    );
  });

  it("explains that members can't manage keys when the server says forbidden", async () => {
    api.listKeys.mockRejectedValue(
      new BackendError({
        code: "forbidden",
        message: "Only owners and admins of this workspace manage keys.",
      }),
    );
    renderWithApp(KeysScreen, {});

    expect(
      await screen.findByRole("heading", { name: "Only owners and admins can manage API keys" }),
    ).toBeInTheDocument();
    expect(screen.getByText("Only owners and admins of this workspace manage keys.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Sign out" })).toBeInTheDocument();
  });

  it("asks to sign in again when the session ended, without losing the screen", async () => {
    api.listKeys.mockRejectedValue(
      new BackendError({ code: "signed_out", message: "Your session has ended. Sign in again." }),
    );
    const { app } = renderWithApp(KeysScreen, {});
    await vi.waitFor(() => expect(app.signInPrompt).not.toBeNull());
    expect(app.signInPrompt?.account?.email).toBe("owner@example.com");
    expect(app.screen).toEqual({ name: "keys" });
  });

  it("opens a key's detail from its card", async () => {
    api.listKeys.mockResolvedValue(keysView());
    const { app } = renderWithApp(KeysScreen, {});
    const cards = await screen.findAllByTestId("key-card");
    await fireEvent.click(within(cards[2]).getByRole("button", { name: /Old payroll sync/ }));
    expect(app.screen).toEqual({ name: "key", keyId: "k3" });
  });

  it("shows the API address and workspace ID with copy buttons and the reference link", async () => {
    api.listKeys.mockResolvedValue(keysView());
    api.copyText.mockResolvedValue(undefined);
    renderWithApp(KeysScreen, {});
    await screen.findAllByTestId("key-card");

    // The panel follows the cards a couple of frames later.
    await fireEvent.click(await screen.findByRole("button", { name: "Copy Workspace ID" }));
    expect(api.copyText).toHaveBeenCalledWith("ws_harbor");
    expect(await screen.findByText("Workspace ID copied.")).toBeInTheDocument();
    const reference = screen.getByRole("button", { name: /API reference/ });
    expect(reference).toHaveAttribute("title", "https://keys.example.com/docs");
    await fireEvent.click(reference);
    expect(api.openDocs).toHaveBeenCalled();
  });

  it("opens the guided Zapier connection", async () => {
    api.listKeys.mockResolvedValue(keysView());
    const { app } = renderWithApp(KeysScreen, {});
    await screen.findAllByTestId("key-card");
    await fireEvent.click(screen.getByTestId("zapier-open"));
    expect(app.screen).toEqual({ name: "zapier" });
  });

  it("opens Activity for owners and admins, and does not offer it to members", async () => {
    api.listKeys.mockResolvedValue(keysView());
    const { app, unmount } = renderWithApp(KeysScreen, {});
    await screen.findAllByTestId("key-card");
    await fireEvent.click(screen.getByTestId("activity-open"));
    expect(app.screen).toEqual({ name: "activity" });
    unmount();

    const member = session({ workspaces: [workspace({ role: "member" })] });
    renderWithApp(KeysScreen, {}, appState({ startup: startup({ session: member }) }));
    await screen.findByTestId("no-access");
    expect(screen.queryByTestId("activity-open")).not.toBeInTheDocument();
  });
});

describe("rotations on the keys screen", () => {
  it("rotates all keys that are due or expire soon, leaving out expired ones", async () => {
    api.listKeys.mockResolvedValue(
      keysView([
        ...keysView().keys,
        view(
          {
            id: "k8",
            name: "Expired and due",
            status: "expired",
            expiresAt: ago(DAY),
            createdAt: ago(200 * DAY),
          },
          { rotationDue: true },
        ),
      ]),
    );
    const { app } = renderWithApp(KeysScreen, {});
    const button = await screen.findByTestId("rotate-all-due");
    expect(button).toHaveTextContent("Rotate all due keys (2)");
    await fireEvent.click(button);
    expect(app.screen).toEqual({ name: "rotate", keyIds: ["k5", "k6"], reason: "scheduled" });
  });

  it("has no “rotate all” button when nothing is due", async () => {
    api.listKeys.mockResolvedValue(keysView([view({ id: "k1" })]));
    renderWithApp(KeysScreen, {});
    await screen.findByTestId("key-card");
    expect(screen.queryByTestId("rotate-all-due")).not.toBeInTheDocument();
  });

  it("offers to resume or cancel each unfinished rotation, and marks its two keys", async () => {
    const interrupted = rotation("creating", { id: "rot_a" });
    const underWay = rotation("updating", {
      id: "rot_b",
      reason: "incident",
      oldKey: { id: "k1", name: "Zapier", prefix: "kdk_AbCd", hint: "9xQz" },
      newKey: { id: "k9", name: "Zapier", prefix: "kdk_NeWz", hint: "Zz99" },
    });
    api.listKeys.mockResolvedValue(
      keysView([...keysView().keys, view({ id: "k9", name: "Zapier", lastUsedAt: null, requestCount: 0 })], {
        rotations: [interrupted, underWay],
      }),
    );
    const { app } = renderWithApp(KeysScreen, {});

    const banners = await screen.findAllByTestId("rotation-resume-banner");
    expect(banners.map((b) => b.dataset.rotationId)).toEqual(["rot_a", "rot_b"]);
    expect(banners[0]).toHaveTextContent(
      "A rotation of “Legacy BI” was interrupted at step 1 (create the replacement)",
    );
    expect(banners[1]).toHaveTextContent(
      "The replacement of the leaked key “Zapier” is under way, at step 2 (update the integration)",
    );

    const cards = screen.getAllByTestId("key-card");
    const byName = (name: string) => cards.filter((c) => c.dataset.keyName === name);
    expect(within(byName("Legacy BI")[0]).getByText("Being replaced")).toBeInTheDocument();
    const [oldZapier, newZapier] = byName("Zapier");
    expect(within(oldZapier).getByText("Being replaced")).toBeInTheDocument();
    expect(within(newZapier).getByText("Replacement")).toBeInTheDocument();

    await fireEvent.click(within(banners[1]).getByTestId("rotation-resume"));
    expect(app.screen).toEqual({ name: "rotate", keyIds: ["k1"], reason: "incident", rotationId: "rot_b" });
  });

  it("cancels an unfinished rotation from its banner", async () => {
    api.listKeys.mockResolvedValueOnce(keysView(undefined, { rotations: [rotation("updating")] }));
    api.listKeys.mockResolvedValue(keysView());
    api.cancelRotation.mockResolvedValue(undefined);
    const { app } = renderWithApp(KeysScreen, {});
    const banner = await screen.findByTestId("rotation-resume-banner");
    expect(banner).toHaveTextContent(
      "Keydeck revokes the replacement (kdk_…N3wK) and the old key keeps working",
    );

    await fireEvent.click(within(banner).getByTestId("rotation-discard"));
    expect(api.cancelRotation).not.toHaveBeenCalled();
    await fireEvent.click(within(banner).getByTestId("rotation-discard-confirm"));
    expect(api.cancelRotation).toHaveBeenCalledWith("rot_1");
    await vi.waitFor(() => expect(screen.queryByTestId("rotation-resume-banner")).not.toBeInTheDocument());
    expect(app.notice).toBe("The rotation of “Legacy BI” was cancelled. The old key works as before.");
  });

  it("keeps the banner and says why when cancelling fails", async () => {
    api.listKeys.mockResolvedValue(keysView(undefined, { rotations: [rotation("updating")] }));
    api.cancelRotation.mockRejectedValue(
      new BackendError({ code: "unreachable", message: "The server didn't answer." }),
    );
    renderWithApp(KeysScreen, {});
    const banner = await screen.findByTestId("rotation-resume-banner");
    await fireEvent.click(within(banner).getByTestId("rotation-discard"));
    await fireEvent.click(within(banner).getByTestId("rotation-discard-confirm"));
    expect(await within(banner).findByText("The server didn't answer.")).toBeInTheDocument();
  });
});
