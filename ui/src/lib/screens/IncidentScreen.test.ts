import { fireEvent, screen, within } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import { BackendError, backend } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import { ago, detail, renderWithApp, view } from "../../test/fixtures";
import { openKeyScreen } from "../../test/screens";
import IncidentScreen from "./IncidentScreen.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

function openIncident(d = detail()) {
  return openKeyScreen(IncidentScreen, { name: "incident", keyId: "k1" }, d);
}

describe("a leaked key", () => {
  it("disables the key in one click and says requests are refused from now on", async () => {
    const { app } = await openIncident();
    const heading = screen.getByRole("heading", { level: 1 });
    expect(heading).toHaveTextContent("“Zapier” leaked: what to do now");
    await vi.waitFor(() => expect(heading).toHaveFocus());
    const status = screen.getByTestId("incident-status");
    expect(status).toHaveAttribute("data-enabled", "true");
    expect(status).toHaveTextContent("This key is enabled: anyone who has it can use it.");

    api.updateKey.mockResolvedValue(view({ id: "k1", name: "Zapier", enabled: false, status: "disabled" }));
    await fireEvent.click(screen.getByTestId("incident-disable"));

    expect(api.updateKey).toHaveBeenCalledWith("k1", { enabled: false });
    await vi.waitFor(() => expect(status).toHaveAttribute("data-enabled", "false"));
    expect(status).toHaveTextContent(
      "Disabled. Every request with this key is refused, starting with the next one.",
    );
    expect(screen.queryByTestId("incident-disable")).not.toBeInTheDocument();
    expect(app.screen).toEqual({ name: "incident", keyId: "k1" });
  });

  it("says so when the key is already disabled", async () => {
    await openIncident(
      detail({ key: view({ id: "k1", name: "Zapier", enabled: false, status: "disabled" }) }),
    );
    const status = screen.getByTestId("incident-status");
    expect(status).toHaveAttribute("data-enabled", "false");
    expect(status).toHaveTextContent("This key is already disabled");
    expect(screen.queryByTestId("incident-disable")).not.toBeInTheDocument();
  });

  it("shows why disabling failed, in plain words", async () => {
    api.updateKey.mockRejectedValue(
      new BackendError({ code: "unreachable", message: "The server didn't answer." }),
    );
    await openIncident();
    await fireEvent.click(screen.getByTestId("incident-disable"));
    expect(await screen.findByRole("alert")).toHaveTextContent("The server didn't answer.");
    expect(screen.getByTestId("incident-status")).toHaveAttribute("data-enabled", "true");
  });

  it("lists the key's recent requests with time, method, path, status and address, and refreshes them", async () => {
    await openIncident();
    const table = screen.getByTestId("incident-requests");
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveTextContent("TimeMethodPathStatusFrom (IP address)");
    expect(rows[1]).toHaveTextContent(/GET.*\/api\/v1\/time-entries.*200.*127\.0\.0\.1/);
    expect(rows[2]).toHaveTextContent(/POST.*\/api\/v1\/projects.*403/);

    api.keyDetail.mockResolvedValue(
      detail({
        requests: [
          { at: ago(0), method: "GET", path: "/api/v1/employees", status: 401, ip: "203.0.113.9" },
          ...detail().requests,
        ],
      }),
    );
    await fireEvent.click(screen.getByRole("button", { name: "Refresh" }));
    await vi.waitFor(() => expect(within(table).getAllByRole("row")).toHaveLength(4));
    expect(within(table).getAllByRole("row")[1]).toHaveTextContent(/employees.*401.*203\.0\.113\.9/);
  });

  it("says when there are no requests yet", async () => {
    await openIncident(detail({ requests: [] }));
    expect(screen.getByTestId("incident-requests")).toHaveTextContent("No requests with this key yet.");
  });

  it("opens the rotation wizard for a replacement with the same permissions", async () => {
    const { app } = await openIncident();
    await fireEvent.click(screen.getByTestId("incident-replace"));
    expect(app.screen).toEqual({ name: "rotate", keyIds: ["k1"], reason: "incident" });
  });

  it("says when the key no longer exists", async () => {
    api.keyDetail.mockRejectedValue(new BackendError({ code: "not_found", message: "No key with this id." }));
    renderWithApp(IncidentScreen, { keyId: "gone" });
    expect(await screen.findByText("This key no longer exists")).toBeInTheDocument();
    expect(screen.getByText(/A key that was revoked can't be used by anyone/)).toBeInTheDocument();
  });
});
