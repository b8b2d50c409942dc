import { fireEvent, screen, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { BackendError, backend, type AuditEntry, type AuditPage } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import {
  appState,
  auditEntry,
  keysView,
  renderWithApp,
  session,
  startup,
  view,
  workspace,
} from "../../test/fixtures";
import ActivityScreen from "./ActivityScreen.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

const entry = auditEntry;

function page(entries: AuditEntry[], nextBefore: string | null = null): AuditPage {
  return { entries, nextBefore };
}

const replacement = view({
  id: "k_new",
  name: "Legacy BI",
  replaces: "k_old",
  createdBy: { id: "u1", name: "Ana Silva", canManageKeys: true },
});

function open(role: "owner" | "admin" | "member" = "owner") {
  const s = session({ workspaces: [workspace({ role })] });
  return renderWithApp(
    ActivityScreen,
    {},
    appState({ startup: startup({ session: s }), screen: { name: "activity" } }),
  );
}

beforeEach(() => {
  api.listKeys.mockResolvedValue(keysView([replacement, view({ id: "k1", name: "Zapier" })]));
});

describe("Activity", () => {
  it("tells a rotation as one story, with who made each step, when and from where", async () => {
    const made = entry("created", "k_new", { changes: { replaces: { from: null, to: "k_old" } } });
    const revoked = entry("revoked", "k_old");
    const disabled = entry("disabled", "k1", {
      keyName: "Zapier",
      actor: { kind: "admin_cli", id: null, name: null },
      ip: null,
    });
    api.activity.mockResolvedValue(page([disabled, revoked, made]));
    open();

    const feed = await screen.findByTestId("activity-feed");
    await vi.waitFor(() => expect(within(feed).getAllByRole("listitem").length).toBeGreaterThan(0));
    const rotation = within(feed).getByTestId("activity-rotation");
    expect(rotation).toHaveAttribute("data-state", "done");
    expect(rotation).toHaveTextContent("Rotated “Legacy BI”");
    const steps = within(rotation).getAllByTestId("activity-step");
    expect(steps.map((s) => s.dataset.action)).toEqual(["created", "revoked"]);
    expect(steps[0]).toHaveTextContent("Replacement made, with the same name and permissions");
    expect(steps[0]).toHaveTextContent("Ana Silva, from 198.51.100.4");
    expect(steps[1]).toHaveTextContent("Old key revoked");
    // The other change stands alone, newest first, and says who made it.
    const alone = within(feed).getAllByTestId("activity-entry");
    expect(alone).toHaveLength(1);
    expect(alone[0]).toHaveTextContent("Disabled “Zapier”");
    expect(alone[0]).toHaveTextContent("The server's admin command line");
    expect(api.activity).toHaveBeenCalledWith({ keyIds: [], actor: null, actions: [], before: null });
  });

  it("narrows to a key (with the key it replaced), a person and a kind of change, and clears", async () => {
    api.activity.mockResolvedValue(
      page([entry("renamed", "k1", { keyName: "Zapier", changes: { name: { from: "Zap", to: "Zapier" } } })]),
    );
    open();
    await screen.findByText("Renamed “Zap” to “Zapier”");

    await fireEvent.change(screen.getByTestId("activity-filter-key"), { target: { value: "k_new" } });
    await vi.waitFor(() =>
      expect(api.activity).toHaveBeenLastCalledWith({
        keyIds: ["k_new", "k_old"],
        actor: null,
        actions: [],
        before: null,
      }),
    );
    await fireEvent.change(screen.getByTestId("activity-filter-person"), { target: { value: "u1" } });
    await fireEvent.change(screen.getByTestId("activity-filter-action"), { target: { value: "switched" } });
    await vi.waitFor(() =>
      expect(api.activity).toHaveBeenLastCalledWith({
        keyIds: ["k_new", "k_old"],
        actor: "u1",
        actions: ["disabled", "enabled", "leak_reported"],
        before: null,
      }),
    );
    api.activity.mockResolvedValue(page([]));
    await fireEvent.change(screen.getByTestId("activity-filter-person"), { target: { value: "server" } });
    expect(await screen.findByTestId("activity-empty")).toHaveTextContent("Nothing matches these filters.");

    await fireEvent.click(screen.getByTestId("activity-filter-clear"));
    await vi.waitFor(() =>
      expect(api.activity).toHaveBeenLastCalledWith({ keyIds: [], actor: null, actions: [], before: null }),
    );
  });

  it("offers revoked keys seen in the log, and the people who made changes, as filters", async () => {
    api.activity.mockResolvedValue(
      page([
        entry("revoked", "k_gone", {
          keyName: "Old export",
          actor: { kind: "user", id: "u7", name: "Rui Costa" },
        }),
      ]),
    );
    open();
    await screen.findByText("Revoked “Old export”");
    const keys = screen.getByTestId("activity-filter-key");
    expect(within(keys).getByRole("group", { name: "Revoked or expired" })).toHaveTextContent("Old export");
    expect(within(keys).getByRole("group", { name: "Keys in use" })).toHaveTextContent("Zapier");
    const people = within(screen.getByTestId("activity-filter-person")).getAllByRole("option");
    expect(people.map((o) => o.textContent)).toEqual([
      "Anyone",
      "Ana Silva",
      "Rui Costa",
      "The server's admin command line",
      "The workspace server (expiry, planned revocations)",
    ]);
  });

  it("loads older pages, and a rotation split across pages becomes one story", async () => {
    const revoked = entry("revoked", "k_old");
    const made = entry("created", "k_new", { changes: { replaces: { from: null, to: "k_old" } } });
    api.activity.mockResolvedValueOnce(page([revoked], revoked.id)).mockResolvedValueOnce(page([made]));
    open();
    const feed = await screen.findByTestId("activity-feed");
    await within(feed).findByText("Revoked “Legacy BI”");
    expect(within(feed).queryByTestId("activity-rotation")).not.toBeInTheDocument();

    await fireEvent.click(within(feed).getByTestId("activity-older"));
    expect(api.activity).toHaveBeenLastCalledWith({
      keyIds: [],
      actor: null,
      actions: [],
      before: revoked.id,
    });
    const rotation = await within(feed).findByTestId("activity-rotation");
    expect(rotation).toHaveTextContent("Rotated “Legacy BI”");
    expect(within(feed).queryByTestId("activity-entry")).not.toBeInTheDocument();
    expect(within(feed).getByTestId("activity-start")).toBeInTheDocument();
    expect(within(feed).queryByTestId("activity-older")).not.toBeInTheDocument();
  });

  it("keeps what it showed and offers a retry when an older page fails", async () => {
    const first = entry("enabled", "k1", { keyName: "Zapier" });
    api.activity
      .mockResolvedValueOnce(page([first], first.id))
      .mockRejectedValueOnce(new BackendError({ code: "unreachable", message: "The server didn't answer." }));
    open();
    await screen.findByText("Enabled “Zapier”");
    await fireEvent.click(screen.getByTestId("activity-older"));
    expect(await screen.findByText("The server didn't answer.")).toBeInTheDocument();
    expect(screen.getByText("Enabled “Zapier”")).toBeInTheDocument();

    api.activity.mockResolvedValueOnce(page([entry("disabled", "k1", { keyName: "Zapier" })]));
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("Disabled “Zapier”")).toBeInTheDocument();
    expect(api.activity).toHaveBeenLastCalledWith({ keyIds: [], actor: null, actions: [], before: first.id });
  });

  it("shows members why they cannot see it, without asking the server", async () => {
    open("member");
    expect(await screen.findByTestId("no-access")).toBeInTheDocument();
    expect(api.activity).not.toHaveBeenCalled();
  });

  it("says who can see it when the server refuses", async () => {
    api.activity.mockRejectedValue(
      new BackendError({ code: "forbidden", message: "Only owners and admins can do that." }),
    );
    open("admin");
    expect(await screen.findByTestId("activity-forbidden")).toHaveTextContent(
      "Owners and admins can see the workspace's activity.",
    );
  });
});
