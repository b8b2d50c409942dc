import { fireEvent, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { BackendError, backend } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import { vocabulary } from "$lib/vocabulary";
import { AppState } from "$lib/app.svelte";
import { renderWithApp, startup } from "../../test/fixtures";
import SettingsDialog from "./SettingsDialog.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

describe("settings", () => {
  it("saves the clipboard delay, rotation policy and theme, and applies the theme", async () => {
    const user = userEvent.setup();
    api.saveSettings.mockImplementation(async (s) => s);
    const onclose = vi.fn();
    const { app } = renderWithApp(SettingsDialog, { onclose });

    const clip = screen.getByLabelText("Clear the clipboard after");
    await user.clear(clip);
    await user.type(clip, "45");
    await user.click(screen.getByLabelText(/Dark/));
    expect(document.documentElement.dataset.theme).toBe("dark");
    await user.click(screen.getByRole("button", { name: "Save settings" }));

    expect(api.saveSettings).toHaveBeenCalledWith({
      clipboardClearSeconds: 45,
      rotationDays: 90,
      quietSeconds: 60,
      theme: "dark",
      remindersOff: [],
      keepInTray: false,
    });
    expect(app.settings.theme).toBe("dark");
    expect(onclose).toHaveBeenCalled();
  });

  it("saves how long a rotation waits for the old key to be quiet, and shows its field error", async () => {
    const user = userEvent.setup();
    api.saveSettings.mockRejectedValueOnce(
      new BackendError({
        code: "validation",
        message: "Some settings need attention.",
        fields: [{ field: "quietSeconds", message: "Use 5 to 3600 seconds." }],
      }),
    );
    const onclose = vi.fn();
    const { app } = renderWithApp(SettingsDialog, { onclose });
    const quiet = screen.getByTestId("settings-quiet-seconds");
    expect(quiet).toHaveValue(60);
    expect(quiet).toHaveAccessibleName("During a rotation, wait for the old key to be quiet for");

    await user.clear(quiet);
    await user.type(quiet, "2");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    await vi.waitFor(() => expect(quiet).toHaveAttribute("aria-invalid", "true"));
    expect(quiet).toHaveAccessibleDescription("Use 5 to 3600 seconds.");
    expect(onclose).not.toHaveBeenCalled();

    api.saveSettings.mockImplementation(async (s) => s);
    await user.clear(quiet);
    await user.type(quiet, "300");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(api.saveSettings).toHaveBeenLastCalledWith(expect.objectContaining({ quietSeconds: 300 }));
    expect(app.settings.quietSeconds).toBe(300);
    expect(onclose).toHaveBeenCalled();
  });

  it("turns reminders off one kind at a time, and keeps Keydeck in the tray when asked", async () => {
    const user = userEvent.setup();
    api.saveSettings.mockImplementation(async (s) => s);
    const { app } = renderWithApp(SettingsDialog, { onclose: vi.fn() });
    const group = screen.getByRole("group", { name: "Remind me when" });
    const boxes = within(group).getAllByRole("checkbox");
    expect(boxes).toHaveLength(4);
    for (const box of boxes) expect(box, "every reminder is on at first").toBeChecked();
    const tray = screen.getByLabelText("Keep Keydeck running in the tray when its window is closed");
    expect(tray).not.toBeChecked();

    await user.click(screen.getByLabelText("Requests with a key were refused in the last hour"));
    await user.click(tray);
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(api.saveSettings).toHaveBeenCalledWith(
      expect.objectContaining({ remindersOff: ["refused"], keepInTray: true }),
    );
    expect(app.settings.remindersOff).toEqual(["refused"]);
  });

  it("shows a reminder turned off as off", () => {
    const app = new AppState({
      startup: startup({ settings: { ...vocabulary.defaultSettings, remindersOff: ["rotation_due"] } }),
    });
    renderWithApp(SettingsDialog, { onclose: vi.fn() }, app);
    expect(screen.getByLabelText("A key is due for rotation")).not.toBeChecked();
    expect(screen.getByLabelText("A key in this computer's keychain expires within 7 days")).toBeChecked();
  });

  it("offers no tray where there is none, and closing then quits", () => {
    const app = new AppState({
      startup: startup({
        trayAvailable: false,
        settings: { ...vocabulary.defaultSettings, keepInTray: true },
      }),
    });
    renderWithApp(SettingsDialog, { onclose: vi.fn() }, app);
    const tray = screen.getByLabelText("Keep Keydeck running in the tray when its window is closed");
    expect(tray).toBeDisabled();
    expect(tray).toHaveAccessibleDescription(
      "Keydeck has no tray icon on this computer (it needs libayatana-appindicator3), so closing the window quits Keydeck.",
    );
  });

  it("puts the theme back when cancelled", async () => {
    const onclose = vi.fn();
    renderWithApp(SettingsDialog, { onclose });
    await fireEvent.click(screen.getByLabelText(/Light/));
    expect(document.documentElement.dataset.theme).toBe("light");
    await fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(document.documentElement.dataset.theme).toBe("system");
    expect(api.saveSettings).not.toHaveBeenCalled();
  });

  it("shows the back end's messages at their fields", async () => {
    api.saveSettings.mockRejectedValue(
      new BackendError({
        code: "validation",
        message: "Some settings need attention.",
        fields: [{ field: "rotationDays", message: "Use 7 to 730 days." }],
      }),
    );
    renderWithApp(SettingsDialog, { onclose: vi.fn() });
    await fireEvent.click(screen.getByRole("button", { name: "Save settings" }));
    const days = screen.getByLabelText("Mark keys for rotation after");
    await vi.waitFor(() => expect(days).toHaveAttribute("aria-invalid", "true"));
    expect(days).toHaveAccessibleDescription("Use 7 to 730 days.");
  });

  it("signs out of an account from the list", async () => {
    api.signOut.mockResolvedValue({
      accounts: [],
      settings: { ...vocabulary.defaultSettings },
      presets: [],
      keychainAvailable: true,
      clipboardAvailable: true,
      trayAvailable: true,
    });
    const { app } = renderWithApp(SettingsDialog, { onclose: vi.fn() });
    await fireEvent.click(screen.getByRole("button", { name: "Sign out of owner@example.com" }));
    expect(api.signOut).toHaveBeenCalledWith("owner@example.com@https://keys.example.com");
    await vi.waitFor(() => expect(app.screen).toEqual({ name: "start" }));
  });
});
