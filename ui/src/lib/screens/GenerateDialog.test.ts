import { fireEvent, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BackendError, backend } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import { appState, generated, renderWithApp, startup } from "../../test/fixtures";
import GenerateDialog from "./GenerateDialog.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

function open(props: Partial<{ atLimit: boolean; readOnly: boolean }> = {}, state = appState()) {
  const onclose = vi.fn();
  const ongenerated = vi.fn();
  const r = renderWithApp(GenerateDialog, { onclose, ongenerated, ...props }, state);
  return { ...r, onclose, ongenerated };
}

describe("the generate form", () => {
  it("fills permissions and expiry from the chosen purpose", async () => {
    open();
    await fireEvent.change(screen.getByTestId("generate-purpose"), {
      target: { value: "reporting_dashboard" },
    });

    expect(screen.getByRole("checkbox", { name: /Read reports/ })).toBeChecked();
    expect(screen.getByRole("checkbox", { name: /Read projects/ })).toBeChecked();
    expect(screen.getByRole("checkbox", { name: /Create time entries/ })).not.toBeChecked();
    expect(screen.getByLabelText("Expires")).toHaveValue("90");
    expect(screen.getByText(/Cannot change anything/)).toBeInTheDocument();
    // An empty name is filled with the purpose, which the person can change.
    expect(screen.getByTestId("generate-name")).toHaveValue("Reporting dashboard");
  });

  it("keeps a name the person typed when the purpose changes", async () => {
    const user = userEvent.setup();
    open();
    await user.type(screen.getByTestId("generate-name"), "Payroll bridge");
    await fireEvent.change(screen.getByTestId("generate-purpose"), { target: { value: "data_export" } });
    expect(screen.getByTestId("generate-name")).toHaveValue("Payroll bridge");
    expect(screen.getByLabelText("Expires")).toHaveValue("7");
  });

  it("sends the form as the back end expects, into the keychain when there is one", async () => {
    const user = userEvent.setup();
    api.generateKey.mockResolvedValue(generated());
    const { ongenerated } = open();
    await user.type(screen.getByTestId("generate-name"), "Zapier production");
    await user.click(screen.getByTestId("generate-submit"));

    expect(api.generateKey).toHaveBeenCalledWith({
      name: "Zapier production",
      purpose: "zapier",
      scopes: ["time_entries:read", "time_entries:write", "employees:read", "projects:read"],
      expiresInDays: 180,
      rateLimit: { enabled: true, maxRequests: 100, windowSeconds: 60 },
      storeInKeychain: true,
    });
    expect(ongenerated).toHaveBeenCalled();
  });

  it("shows the server's validation messages at their fields", async () => {
    const user = userEvent.setup();
    api.generateKey.mockRejectedValue(
      new BackendError({
        code: "validation",
        message: "Some fields need attention.",
        fields: [
          { field: "name", message: 'Use at least 3 characters, for example "Zapier" or "Finance sync".' },
          { field: "rateLimit.maxRequests", message: "Use 1 to 10000 requests." },
        ],
      }),
    );
    open();
    const name = screen.getByTestId("generate-name");
    await user.clear(name);
    await user.type(name, "Z");
    await user.click(screen.getByTestId("generate-submit"));

    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(name).toHaveAccessibleDescription(
      'Use at least 3 characters, for example "Zapier" or "Finance sync".',
    );
    expect(name).toHaveFocus();
    const requests = screen.getByLabelText("Requests");
    expect(requests).toHaveAttribute("aria-invalid", "true");
    expect(requests).toHaveAccessibleDescription("Use 1 to 10000 requests.");
    // Nothing typed is lost.
    expect(name).toHaveValue("Z");
    expect(screen.queryByTestId("revealed-secret")).not.toBeInTheDocument();
  });

  it("explains the clipboard-only way before generating when there is no keychain", async () => {
    const user = userEvent.setup();
    api.generateKey.mockResolvedValue(generated({ keychain: undefined, keychainProblem: "No keychain." }));
    const state = appState({
      startup: startup({ keychainAvailable: false, keychainProblem: "No Secret Service is running." }),
    });
    open({}, state);

    expect(screen.getByText("This key won't be saved in a keychain")).toBeInTheDocument();
    expect(screen.getByText("No Secret Service is running.")).toBeInTheDocument();
    expect(screen.getByText(/copy the new key to the clipboard and show it once/)).toBeInTheDocument();

    await user.type(screen.getByTestId("generate-name"), "Zapier production");
    await user.click(screen.getByTestId("generate-submit"));
    expect(api.generateKey).toHaveBeenCalledWith(expect.objectContaining({ storeInKeychain: false }));
  });

  it("offers the clipboard-only way when the keychain fails while generating", async () => {
    const user = userEvent.setup();
    api.generateKey.mockRejectedValueOnce(
      new BackendError({ code: "no_keychain", message: "The keychain is locked." }),
    );
    open();
    await user.type(screen.getByTestId("generate-name"), "Zapier production");
    await user.click(screen.getByTestId("generate-submit"));

    expect(screen.getByText("The keychain is locked.")).toBeInTheDocument();
    api.generateKey.mockResolvedValueOnce(generated({ keychain: undefined }));
    await user.click(screen.getByTestId("generate-submit"));
    expect(api.generateKey).toHaveBeenLastCalledWith(expect.objectContaining({ storeInKeychain: false }));
  });

  it("says why a key can't be made when the workspace is full", () => {
    open({ atLimit: true });
    expect(screen.getByText(/already has 10 keys/)).toBeInTheDocument();
    expect(screen.getByTestId("generate-submit")).toBeDisabled();
  });
});

describe("the reveal", () => {
  beforeEach(() => {
    vi.useFakeTimers({ shouldAdvanceTime: false });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function generate(result = generated()) {
    api.generateKey.mockResolvedValue(result);
    const r = open();
    await fireEvent.input(screen.getByTestId("generate-name"), { target: { value: "Zapier production" } });
    await fireEvent.click(screen.getByTestId("generate-submit"));
    await vi.waitFor(() => expect(screen.getByTestId("revealed-secret")).toBeInTheDocument());
    return r;
  }

  it("shows the secret once, says where it went, in order, and counts down the clipboard", async () => {
    await generate();

    expect(screen.getByTestId("revealed-secret")).toHaveTextContent(
      /^kdk_Zq8mN3pLx7TfR2vWc9YbK4hJd6Gs1Ae5Qu0oPi$/,
    );
    expect(screen.getAllByText(/kdk_Zq8mN3pLx7TfR2vWc9YbK4hJd6Gs1Ae5Qu0oPi/)).toHaveLength(1);
    const items = screen.getAllByRole("listitem").map((li) => li.textContent ?? "");
    const saved = items.findIndex((t) =>
      t.includes("Saved in your keychain (service keydeck, account ws_harbor/Zapier production)"),
    );
    const copied = items.findIndex((t) => t.includes("Copied to the clipboard"));
    expect(saved).toBeGreaterThanOrEqual(0);
    expect(copied).toBeGreaterThan(saved);

    expect(screen.getByTestId("clipboard-countdown")).toHaveTextContent("Clipboard clears in 30 s");
    await vi.advanceTimersByTimeAsync(3000);
    expect(screen.getByTestId("clipboard-countdown")).toHaveTextContent("Clipboard clears in 27 s");
    await vi.advanceTimersByTimeAsync(27_000);
    expect(screen.getByTestId("clipboard-countdown")).toHaveTextContent("Clipboard cleared");
    expect(screen.getByText("The clipboard has been cleared.")).toBeInTheDocument();
  });

  it("shows how to read the key from code", async () => {
    await generate();
    expect(
      screen.getByText('key = keyring.get_password("keydeck", "ws_harbor/Zapier production")', {
        exact: false,
      }),
    ).toBeInTheDocument();
    expect(
      screen.getByText("secret-tool lookup service 'keydeck' username 'ws_harbor/Zapier production'"),
    ).toBeInTheDocument();
  });

  it("drops the secret when closed", async () => {
    const { onclose } = await generate();
    await fireEvent.click(screen.getByTestId("reveal-close"));
    expect(onclose).toHaveBeenCalled();
    expect(screen.queryByTestId("revealed-secret")).not.toBeInTheDocument();
    expect(document.body.textContent).not.toContain("kdk_Zq8mN3pLx7TfR2vWc9YbK4hJd6Gs1Ae5Qu0oPi");
  });

  it("asks to copy by hand when the clipboard could not be used, and waits for a confirmation", async () => {
    await generate(
      generated({
        keychain: undefined,
        keychainProblem: "No keychain on this computer.",
        copied: false,
        clipboardProblem: "No clipboard is available in this session.",
      }),
    );
    expect(screen.queryByTestId("clipboard-countdown")).not.toBeInTheDocument();
    expect(screen.getByText(/No clipboard is available in this session/)).toBeInTheDocument();
    expect(screen.getByText("Select the key above and copy it by hand.")).toBeInTheDocument();

    const done = screen.getByTestId("reveal-close");
    expect(done).toBeDisabled();
    await fireEvent.click(screen.getByLabelText("I've copied the key and saved it somewhere safe"));
    expect(done).toBeEnabled();
  });
});
