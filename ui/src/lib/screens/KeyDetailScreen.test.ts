import { fireEvent, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { BackendError, backend } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import { ago, auditEntry, detail, renderWithApp, view } from "../../test/fixtures";
import { openKeyScreen } from "../../test/screens";
import KeyDetailScreen from "./KeyDetailScreen.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;
// A key's page shows its history; these tests are about the rest of it.
beforeEach(() => api.activity.mockResolvedValue({ entries: [], nextBefore: null }));

function openDetail(d = detail()) {
  return openKeyScreen(KeyDetailScreen, { name: "key", keyId: "k1" }, d, { name: "Zapier" });
}

describe("a key's detail", () => {
  it("shows everything on the card, the expiry as fixed, and the keychain address", async () => {
    await openDetail(
      detail({
        key: view({ id: "k1", name: "Zapier", expiresAt: "2027-05-03T12:00:00Z" }, { inKeychain: true }),
      }),
    );
    expect(screen.getByText("kdk_…9xQz")).toBeInTheDocument();
    expect(screen.getByText("In this computer's keychain")).toBeInTheDocument();
    expect(screen.getByText(/Last used 2 minutes ago · 1,204 requests/)).toBeInTheDocument();
    expect(screen.getByText("Expires May 3, 2027 — fixed when the key was made")).toBeInTheDocument();
    expect(screen.getByText("ws_harbor/Zapier")).toBeInTheDocument();
  });

  it("draws requests per day with a title, a summary and the numbers", async () => {
    await openDetail();
    const chart = screen.getByRole("img", { name: /Requests per day, last 14 days/ });
    expect(chart).toHaveAccessibleName(expect.stringContaining("910 requests in the last 14 days"));
    expect(chart.querySelectorAll("rect.bar")).toHaveLength(14);
    await fireEvent.click(screen.getByText("Show the numbers"));
    const usage = screen.getByRole("region", { name: "Requests per day" });
    const rows = within(within(usage).getByRole("table")).getAllByRole("row");
    expect(rows).toHaveLength(15);
    expect(rows[14]).toHaveTextContent(/130$/);
  });

  it("lists recent requests with time, method, path, status and address", async () => {
    await openDetail();
    const section = screen.getByRole("region", { name: "Recent requests" });
    const rows = within(section).getAllByRole("row");
    expect(rows).toHaveLength(3);
    expect(rows[1]).toHaveTextContent(/GET.*\/api\/v1\/time-entries.*200.*127\.0\.0\.1/);
    expect(rows[2]).toHaveTextContent(/POST.*\/api\/v1\/projects.*403/);
  });

  it("keeps Revoke disabled until the exact name is typed, then revokes", async () => {
    const user = userEvent.setup();
    api.revokeKey.mockResolvedValue(undefined);
    const { app } = await openDetail();
    const input = screen.getByTestId("revoke-confirm-input");
    const button = screen.getByTestId("revoke-submit");

    expect(button).toBeDisabled();
    await user.type(input, "zapier");
    expect(button).toBeDisabled();
    await user.clear(input);
    await user.type(input, "Zapier ");
    expect(button).toBeDisabled();
    await user.clear(input);
    await user.type(input, "Zapier");
    expect(button).toBeEnabled();

    await user.click(button);
    expect(api.revokeKey).toHaveBeenCalledWith("k1", "Zapier");
    expect(app.screen).toEqual({ name: "keys" });
    expect(app.notice).toMatch(/“Zapier” was revoked/);
  });

  it("sends only what changed and shows the server's messages at their fields", async () => {
    const user = userEvent.setup();
    api.updateKey.mockRejectedValue(
      new BackendError({
        code: "validation",
        message: "Some fields need attention.",
        fields: [{ field: "name", message: "Use at most 100 characters (this one has 120)." }],
      }),
    );
    await openDetail();
    const name = screen.getByTestId("edit-name");
    expect(screen.getByTestId("edit-save")).toBeDisabled();
    await user.clear(name);
    await user.type(name, "Zapier (production)");
    await user.click(screen.getByRole("checkbox", { name: /Read reports/ }));
    await user.click(screen.getByTestId("edit-save"));

    expect(api.updateKey).toHaveBeenCalledWith("k1", {
      name: "Zapier (production)",
      scopes: ["time_entries:read", "time_entries:write", "reports:read"],
    });
    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(name).toHaveAccessibleDescription("Use at most 100 characters (this one has 120).");
    expect(name).toHaveValue("Zapier (production)");
  });

  it("limits where the key may be used from, offering the addresses its requests came from", async () => {
    const user = userEvent.setup();
    const requests = [
      { at: ago(60_000), method: "GET", path: "/api/v1/me", status: 200, ip: "203.0.113.7" },
      { at: ago(120_000), method: "GET", path: "/api/v1/me", status: 200, ip: "2001:db8::5" },
      { at: ago(180_000), method: "GET", path: "/api/v1/me", status: 200, ip: "203.0.113.7" },
    ];
    await openDetail(detail({ requests }));
    const field = screen.getByTestId("edit-allowed-ips");
    expect(field).toHaveAccessibleName("Where it may be used from");
    expect(field).toHaveAccessibleDescription(/Leave it empty to allow any address, as for Zapier/);
    const offered = screen.getAllByTestId("allowed-ip-suggestion").map((b) => b.textContent?.trim());
    expect(offered).toEqual(["+ 203.0.113.7", "+ 2001:db8::5"]);

    await user.click(screen.getByRole("button", { name: "Allow 203.0.113.7" }));
    expect(field).toHaveValue("203.0.113.7");
    expect(screen.getAllByTestId("allowed-ip-suggestion")).toHaveLength(1);
    await user.type(field, "\n10.0.0.0/33");
    api.updateKey.mockRejectedValueOnce(
      new BackendError({
        code: "validation",
        message: "Some fields need attention.",
        fields: [
          {
            field: "allowedIps",
            message: "10.0.0.0/33 is not an address range: an IPv4 prefix is at most /32.",
          },
        ],
      }),
    );
    await user.click(screen.getByTestId("edit-save"));
    expect(api.updateKey).toHaveBeenLastCalledWith("k1", { allowedIps: ["203.0.113.7", "10.0.0.0/33"] });
    expect(field).toHaveAttribute("aria-invalid", "true");
    expect(field).toHaveAccessibleDescription(
      "10.0.0.0/33 is not an address range: an IPv4 prefix is at most /32.",
    );

    api.updateKey.mockResolvedValueOnce(
      view({ id: "k1", name: "Zapier", allowedIps: ["203.0.113.7/32", "10.0.0.0/8"] }),
    );
    await user.clear(field);
    await user.type(field, "203.0.113.7, 10.0.0.0/8");
    await user.click(screen.getByTestId("edit-save"));
    expect(api.updateKey).toHaveBeenLastCalledWith("k1", { allowedIps: ["203.0.113.7", "10.0.0.0/8"] });
    await vi.waitFor(() => expect(field).toHaveValue("203.0.113.7/32\n10.0.0.0/8"));
    expect(screen.getByTestId("edit-save")).toBeDisabled();
  });

  it("disables and enables the key", async () => {
    api.updateKey.mockResolvedValue(view({ id: "k1", name: "Zapier", enabled: false, status: "disabled" }));
    const { app } = await openDetail();
    await fireEvent.click(screen.getByTestId("toggle-enabled"));
    expect(api.updateKey).toHaveBeenCalledWith("k1", { enabled: false });
    expect(await screen.findByRole("button", { name: "Enable key" })).toBeInTheDocument();
    expect(app.notice).toBe("“Zapier” is disabled.");
  });

  it("says when the key no longer exists and offers the way back", async () => {
    api.keyDetail.mockRejectedValue(new BackendError({ code: "not_found", message: "No key with this id." }));
    const { app } = renderWithApp(KeyDetailScreen, { keyId: "gone" });
    expect(await screen.findByText("This key no longer exists")).toBeInTheDocument();
    await fireEvent.click(screen.getByRole("button", { name: "Back to all keys" }));
    expect(app.screen).toEqual({ name: "keys" });
  });

  it("warns when the creator can no longer manage keys", async () => {
    await openDetail(
      detail({
        key: view({
          id: "k1",
          name: "Zapier",
          createdBy: { id: "u9", name: "Sam Lee", canManageKeys: false },
        }),
      }),
    );
    expect(
      screen.getByText("Sam Lee is no longer an admin here, so this key stopped working."),
    ).toBeInTheDocument();
  });

  it("opens the rotation wizard and the leaked-key steps for this key", async () => {
    const { app } = await openDetail();
    await fireEvent.click(screen.getByTestId("rotate-open"));
    expect(app.screen).toEqual({ name: "rotate", keyIds: ["k1"], reason: "scheduled" });

    app.screen = { name: "key", keyId: "k1" };
    await fireEvent.click(screen.getByTestId("incident-open"));
    expect(app.screen).toEqual({ name: "incident", keyId: "k1" });
  });

  it("says where a scanner found a leaked key, and leads to the leaked-key steps", async () => {
    const leak = {
      reportedAt: "2026-12-02T09:30:00Z",
      url: "https://github.com/octocat/hello/blob/abc123/.env",
      source: "content",
    };
    const { app } = await openDetail(
      detail({ key: view({ id: "k1", name: "Zapier", enabled: false, status: "disabled", leak }) }),
    );
    const banner = screen.getByTestId("key-leaked");
    expect(banner).toHaveTextContent(
      "A secret scanner reported this key as found in public on Dec 2, 2026, at https://github.com/octocat/hello/blob/abc123/.env.",
    );
    expect(screen.getByTestId("marker-leaked")).toHaveTextContent("Reported leaked");
    await fireEvent.click(screen.getByTestId("leak-respond"));
    expect(app.screen).toEqual({ name: "incident", keyId: "k1" });
  });

  it("shows the key's history, with the key it replaced, so its rotation reads as one story", async () => {
    const made = auditEntry("created", "k1", {
      keyName: "Zapier",
      changes: { replaces: { from: null, to: "k0" } },
    });
    const gone = auditEntry("revoked_when_silent", "k0", {
      keyName: "Zapier",
      actor: { kind: "server", id: null, name: null },
      ip: null,
    });
    api.activity.mockResolvedValue({ entries: [gone, made], nextBefore: null });
    await openDetail(detail({ key: view({ id: "k1", name: "Zapier", replaces: "k0" }) }));
    const history = screen.getByTestId("key-history");
    const story = await within(history).findByTestId("activity-rotation");
    expect(story).toHaveTextContent("Rotated “Zapier”");
    expect(story).toHaveTextContent("Old key revoked by the server once it had fallen silent");
    expect(story).toHaveTextContent("The workspace server");
    expect(api.activity).toHaveBeenCalledWith({
      keyIds: ["k1", "k0"],
      actor: null,
      actions: [],
      before: null,
    });
  });

  it("shows a plan to revoke the key once silent, and calls it off only as far as the server says", async () => {
    const plan = {
      silentSeconds: 86_400,
      scheduledAt: "2026-12-01T09:00:00Z",
      revokesAt: "2026-12-02T09:00:00Z",
    };
    const { app } = await openDetail(detail({ key: view({ id: "k1", name: "Zapier", revokePlan: plan }) }));
    const panel = screen.getByTestId("revoke-plan");
    expect(panel).toHaveTextContent("once it has had no request for 1 day: at Dec 2, 2026");
    expect(panel).toHaveTextContent("even with Keydeck closed");

    // The server answers with the plan still in place: no "called off".
    api.updateKey.mockResolvedValueOnce(view({ id: "k1", name: "Zapier", revokePlan: plan }));
    await fireEvent.click(screen.getByTestId("revoke-plan-cancel"));
    expect(api.updateKey).toHaveBeenCalledWith("k1", { revokeWhenSilentSeconds: null });
    expect(await within(panel).findByRole("alert")).toHaveTextContent("The server still shows the plan.");
    expect(app.notice).toBeNull();

    api.updateKey.mockResolvedValueOnce(view({ id: "k1", name: "Zapier", revokePlan: null }));
    await fireEvent.click(screen.getByTestId("revoke-plan-cancel"));
    await vi.waitFor(() => expect(screen.queryByTestId("revoke-plan")).not.toBeInTheDocument());
    expect(app.notice).toBe("The plan is called off: “Zapier” stays until you revoke it.");
  });

  it("marks no leak on a key nobody reported", async () => {
    await openDetail();
    expect(screen.queryByTestId("key-leaked")).toBeNull();
    expect(screen.queryByTestId("marker-leaked")).toBeNull();
  });
});
