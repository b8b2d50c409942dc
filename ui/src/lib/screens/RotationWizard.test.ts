import { fireEvent, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BackendError, backend, type Rotation, type RotationReason, type Stage } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import {
  ago,
  appState,
  generated,
  keysView,
  legacyKey,
  renderWithApp,
  report,
  rotation,
  rotationCheck,
  startup,
  view,
} from "../../test/fixtures";
import RotationWizard from "./RotationWizard.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

const SECRET = "kdk_Zq8mN3pLx7TfR2vWc9YbK4hJd6Gs1Ae5Qu0oPi";

function open(
  props: Partial<{ keyIds: string[]; reason: RotationReason; rotationId: string }> = {},
  state = appState(),
) {
  const reason: RotationReason = "scheduled";
  return renderWithApp(RotationWizard, { keyIds: ["k6"], reason, ...props }, state);
}

function wizard(): HTMLElement {
  return screen.getByTestId("rotation-wizard");
}

async function atStep(step: string) {
  await vi.waitFor(() => expect(wizard()).toHaveAttribute("data-step", step));
}

/** Opens the wizard on a journaled rotation at `stage`. */
async function resumeAt(stage: Stage, overrides: Partial<Rotation> = {}, state = appState()) {
  api.resumeRotation.mockResolvedValue({ rotation: rotation(stage, overrides) });
  api.checkRotation.mockResolvedValue(rotationCheck(rotation(stage, overrides)));
  const r = open({ rotationId: "rot_1" }, state);
  await vi.waitFor(() => expect(wizard()).toHaveAttribute("data-stage", stage));
  return r;
}

function revealOf(r: Rotation) {
  return generated({
    key: view({ id: "k_rot", name: r.oldKey.name, hint: "N3wK", lastUsedAt: null, requestCount: 0 }),
    keychain: { service: "keydeck", account: `ws_harbor/${r.oldKey.name}` },
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("rotation step 1", () => {
  it("says what the replacement is made of, creates it and shows its one reveal", async () => {
    api.keyCard.mockResolvedValue(legacyKey());
    open();

    await screen.findByText("Legacy BI", { selector: "dd" });
    expect(wizard()).toHaveAttribute("data-step", "1");
    expect(wizard()).toHaveAttribute("data-stage", "new");
    expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Rotate “Legacy BI”");
    const facts = screen.getByText("Legacy BI", { selector: "dd" }).closest("dl") as HTMLElement;
    expect(within(facts).getByText("Read reports")).toBeInTheDocument();
    expect(within(facts).getByText("Read projects")).toBeInTheDocument();
    expect(facts).toHaveTextContent("Up to 100 requests per 60 seconds");
    expect(facts).toHaveTextContent("180 days after it is made");
    const current = screen.getByRole("listitem", { current: "step" });
    expect(current).toHaveTextContent("Step 1: Create the replacement");

    api.startRotation.mockResolvedValue({ rotation: rotation("created"), generated: revealOf(rotation()) });
    await fireEvent.click(screen.getByTestId("rotation-create"));

    expect(api.startRotation).toHaveBeenCalledWith("k6", "scheduled");
    expect(await screen.findByTestId("revealed-secret")).toHaveTextContent(SECRET);
    expect(wizard()).toHaveAttribute("data-stage", "created");
    expect(wizard()).toHaveTextContent(
      "Saved in your keychain (service keydeck, account ws_harbor/Legacy BI)",
    );
    expect(screen.getByTestId("clipboard-countdown")).toHaveTextContent("Clipboard clears in 30 s");

    api.advanceRotation.mockResolvedValue(rotation("updating"));
    await fireEvent.click(screen.getByTestId("rotation-next"));
    expect(api.advanceRotation).toHaveBeenCalledWith("rot_1", "begin_update");
    await atStep("2");
    // Past step 1 the secret is gone from the window.
    expect(document.body.textContent).not.toContain(SECRET);
    await vi.waitFor(() =>
      expect(
        screen.getByRole("heading", { level: 2, name: "Step 2 of 4: Update the integration" }),
      ).toHaveFocus(),
    );
  });

  it("waits for a key that was neither saved nor copied to be saved by hand", async () => {
    api.keyCard.mockResolvedValue(legacyKey());
    api.startRotation.mockResolvedValue({
      rotation: rotation("created", { previousInKeychain: false }),
      generated: generated({ keychain: undefined, copied: false, clipboardProblem: "No clipboard." }),
    });
    open({}, appState({ startup: startup({ keychainAvailable: false }) }));
    await fireEvent.click(await screen.findByTestId("rotation-create"));
    await screen.findByTestId("revealed-secret");

    expect(screen.getByTestId("rotation-next")).toBeDisabled();
    await fireEvent.click(screen.getByLabelText("I've copied the key and saved it somewhere safe"));
    expect(screen.getByTestId("rotation-next")).toBeEnabled();
  });

  it("when the workspace is full, lists the never-used keys, deletes one after asking, then creates", async () => {
    const user = userEvent.setup();
    api.keyCard.mockResolvedValue(legacyKey());
    api.startRotation.mockRejectedValueOnce(
      new BackendError({ code: "key_limit_reached", message: "This workspace already has 10 keys." }),
    );
    const pending = rotation("updating", {
      id: "rot_other",
      oldKey: { id: "k1", name: "Zapier", prefix: "kdk_AbCd", hint: "9xQz" },
      newKey: { id: "k_pending", name: "Zapier", prefix: "kdk_PeNd", hint: "PnDg" },
    });
    api.listKeys.mockResolvedValue(
      keysView(
        [
          legacyKey(),
          view({ id: "k1", name: "Zapier" }),
          view({ id: "k2", name: "Reporting dashboard", lastUsedAt: null, requestCount: 0 }),
          view({ id: "k3", name: "Test key", lastUsedAt: null, requestCount: 0 }),
          // Never used, but the replacement of another rotation: not offered.
          view({ id: "k_pending", name: "Zapier", lastUsedAt: null, requestCount: 0 }),
          // Never used since the last counts, but used once: not offered.
          view({ id: "k4", name: "Tried once", lastUsedAt: null, requestCount: 1 }),
        ],
        { rotations: [pending] },
      ),
    );
    open();
    await user.click(await screen.findByTestId("rotation-create"));

    const full = await screen.findByTestId("rotation-limit");
    expect(full).toHaveTextContent("This workspace is full");
    expect(full).toHaveTextContent("a rotation needs room for one more");
    const buttons = within(full).getAllByTestId("delete-unused-key");
    expect(buttons.map((b) => b.dataset.keyName)).toEqual(["Reporting dashboard", "Test key"]);

    await user.click(buttons[0]);
    const dialog = screen.getByRole("dialog", { name: "Delete “Reporting dashboard”?" });
    expect(dialog).toHaveTextContent("never been used");
    expect(api.deleteUnusedKey).not.toHaveBeenCalled();
    api.deleteUnusedKey.mockResolvedValue(undefined);
    await user.click(within(dialog).getByTestId("delete-unused-confirm"));

    expect(api.deleteUnusedKey).toHaveBeenCalledWith("k2");
    await vi.waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(
      within(full)
        .getAllByTestId("delete-unused-key")
        .map((b) => b.dataset.keyName),
    ).toEqual(["Test key"]);
    expect(full).toHaveTextContent("There's room now: create the replacement.");
    await vi.waitFor(() => expect(screen.getByTestId("rotation-create")).toHaveFocus());

    api.startRotation.mockResolvedValue({ rotation: rotation("created"), generated: revealOf(rotation()) });
    await user.click(screen.getByTestId("rotation-create"));
    expect(await screen.findByTestId("revealed-secret")).toBeInTheDocument();
    expect(screen.queryByTestId("rotation-limit")).not.toBeInTheDocument();
  });

  it("when the workspace is full of used keys, says to revoke one from its detail page", async () => {
    api.keyCard.mockResolvedValue(legacyKey());
    api.startRotation.mockRejectedValue(
      new BackendError({ code: "key_limit_reached", message: "This workspace already has 10 keys." }),
    );
    api.listKeys.mockResolvedValue(keysView([legacyKey(), view({ id: "k1", name: "Zapier" })]));
    const { app } = open();
    await fireEvent.click(await screen.findByTestId("rotation-create"));

    const full = await screen.findByTestId("rotation-limit");
    expect(within(full).queryByTestId("delete-unused-key")).not.toBeInTheDocument();
    expect(full).toHaveTextContent("Open a key you no longer need from the keys screen and revoke it there");
    await fireEvent.click(within(full).getByRole("button", { name: "Go to all keys" }));
    expect(app.screen).toEqual({ name: "keys" });
  });

  it("asks to sign in again when the session ended, without an error on the page", async () => {
    api.keyCard.mockResolvedValue(legacyKey());
    api.startRotation.mockRejectedValue(new BackendError({ code: "signed_out", message: "Sign in again." }));
    const { app } = open();
    await fireEvent.click(await screen.findByTestId("rotation-create"));
    await vi.waitFor(() => expect(app.signInPrompt).not.toBeNull());
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    expect(wizard()).toHaveAttribute("data-step", "1");
  });
});

describe("rotation step 2", () => {
  it("says what to paste where, copies the new key again and shows both keychain addresses", async () => {
    api.copyRotationKey.mockResolvedValue(undefined);
    api.copyText.mockResolvedValue(undefined);
    await resumeAt("updating");

    const step = screen.getByRole("region", { name: "Step 2 of 4: Update the integration" });
    expect(step).toHaveTextContent("Wherever the old key (ending …7hQe) is pasted");
    expect(step).toHaveTextContent("replace it with the new key (ending …N3wK)");
    expect(screen.getByTestId("rotation-keychain-account")).toHaveTextContent("ws_harbor/Legacy BI");
    expect(screen.getByTestId("rotation-previous-account")).toHaveTextContent(
      "ws_harbor/Legacy BI (previous)",
    );
    expect(step).toHaveTextContent("secret-tool lookup service keydeck username 'ws_harbor/Legacy BI'");
    expect(step).toHaveTextContent(
      "secret-tool lookup service keydeck username 'ws_harbor/Legacy BI (previous)'",
    );

    await fireEvent.click(screen.getByTestId("rotation-copy-again"));
    expect(api.copyRotationKey).toHaveBeenCalledWith("rot_1");
    expect(await screen.findByText("Copied. The clipboard clears in 30 s.")).toBeInTheDocument();

    await fireEvent.click(screen.getByRole("button", { name: "Copy Read the new key (Linux terminal)" }));
    expect(api.copyText).toHaveBeenCalledWith(
      "secret-tool lookup service keydeck username 'ws_harbor/Legacy BI'",
    );

    api.advanceRotation.mockResolvedValue(rotation("confirming"));
    api.checkRotation.mockResolvedValue(rotationCheck(rotation("confirming")));
    await fireEvent.click(screen.getByTestId("rotation-updated"));
    expect(api.advanceRotation).toHaveBeenCalledWith("rot_1", "begin_confirm");
    await atStep("3");
  });

  it("leaves out the previous address when the old key wasn't in the keychain", async () => {
    await resumeAt("updating", { previousInKeychain: false });
    expect(screen.getByTestId("rotation-keychain-account")).toBeInTheDocument();
    expect(screen.queryByTestId("rotation-previous-account")).not.toBeInTheDocument();
  });

  it("cancels after explaining what cancelling does", async () => {
    api.cancelRotation.mockResolvedValue(undefined);
    const { app } = await resumeAt("updating");
    await fireEvent.click(screen.getByTestId("rotation-cancel"));

    const dialog = screen.getByRole("dialog", { name: "Cancel this rotation?" });
    expect(dialog).toHaveTextContent("revokes the replacement (kdk_…N3wK)");
    expect(dialog).toHaveTextContent("puts the old key back");
    expect(api.cancelRotation).not.toHaveBeenCalled();
    await fireEvent.click(within(dialog).getByTestId("rotation-cancel-confirm"));

    expect(api.cancelRotation).toHaveBeenCalledWith("rot_1");
    await vi.waitFor(() => expect(app.screen).toEqual({ name: "keys" }));
    expect(app.notice).toBe("The rotation of “Legacy BI” was cancelled. The old key works as before.");
  });
});

describe("rotation step 3", () => {
  it("watches both keys every 2 seconds and moves to step 4 by itself once confirmed", async () => {
    vi.useFakeTimers();
    api.resumeRotation.mockResolvedValue({ rotation: rotation("confirming") });
    api.checkRotation.mockResolvedValue(rotationCheck(rotation("confirming"), { oldSilentSeconds: 20 }));
    open({ rotationId: "rot_1" });
    await atStep("3");

    const check = await screen.findByTestId("rotation-check");
    await vi.waitFor(() =>
      expect(check).toHaveTextContent("Waiting for a request with the new key to succeed."),
    );
    expect(check).toHaveAttribute("data-passed", "false");
    expect(check).toHaveTextContent("No request with the new key (…N3wK) has succeeded since step 2 began");
    expect(check).toHaveTextContent("The old key (…7hQe) has been quiet for 20 s of 1 min.");
    expect(within(check).getByRole("progressbar")).toHaveAttribute("value", "20");
    expect(within(check).getAllByRole("status")[0]).toHaveTextContent(
      "Waiting for a request with the new key to succeed.",
    );

    // The integration has the new key but sends another workspace's ID: refused, and said so.
    api.checkRotation.mockResolvedValue(
      rotationCheck(rotation("confirming"), {
        oldSilentSeconds: 90,
        newRefusal: {
          at: ago(6_000),
          error: "workspace_mismatch",
          status: 403,
          cause: "sent another workspace's ID with it",
          fix: "Paste ws_harbor into the Workspace ID field, then try again.",
        },
      }),
    );
    await vi.advanceTimersByTimeAsync(2000);
    expect(check).toHaveAttribute("data-passed", "false");
    expect(check).toHaveTextContent("The new key's requests are refused. Fix what is said below.");
    const refused = within(check).getByTestId("rotation-new-refused");
    expect(refused).toHaveTextContent(
      /The integration tried the new key at .* but sent another workspace's ID with it\./,
    );
    expect(refused).toHaveTextContent("Paste ws_harbor into the Workspace ID field, then try again.");

    api.checkRotation.mockResolvedValue(
      rotationCheck(rotation("confirming"), {
        newLastSuccessAt: ago(8_000),
        newSucceededSinceUpdate: true,
        oldSilentSeconds: 40,
      }),
    );
    await vi.advanceTimersByTimeAsync(2000);
    expect(check).toHaveTextContent("The new key works. Waiting for the old key to stay quiet.");
    expect(check).toHaveTextContent("A request with the new key (…N3wK) succeeded 10 seconds ago.");
    expect(within(check).queryByTestId("rotation-new-refused")).toBeNull();

    const confirmed = rotation("confirmed");
    api.checkRotation.mockResolvedValue(
      rotationCheck(confirmed, {
        newLastSuccessAt: ago(2000),
        newSucceededSinceUpdate: true,
        oldSilentSeconds: 62,
        passed: true,
      }),
    );
    await vi.advanceTimersByTimeAsync(2000);
    await atStep("4");
    expect(screen.getByText("Confirmed: your integration is using the new key.")).toBeInTheDocument();
    // Step 4 looks once more; then nothing polls any more.
    const calls = api.checkRotation.mock.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.checkRotation.mock.calls.length).toBe(calls);
  });

  it("stops watching when the wizard closes", async () => {
    vi.useFakeTimers();
    api.resumeRotation.mockResolvedValue({ rotation: rotation("confirming") });
    api.checkRotation.mockResolvedValue(rotationCheck());
    const { unmount } = open({ rotationId: "rot_1" });
    await atStep("3");
    await vi.advanceTimersByTimeAsync(4000);
    const calls = api.checkRotation.mock.calls.length;
    expect(calls).toBeGreaterThanOrEqual(2);

    unmount();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.checkRotation.mock.calls.length).toBe(calls);
  });

  it("for a leaked key, only the new key counts", async () => {
    await resumeAt("confirming", { reason: "incident" });
    const check = await screen.findByTestId("rotation-check");
    await vi.waitFor(() => expect(check).toHaveTextContent("The leaked key (…7hQe) doesn't count here."));
    expect(check).not.toHaveTextContent("quiet for");
    expect(screen.getByRole("listitem", { current: "step" })).toHaveTextContent("Step 3: Confirm");
  });

  it("a connected test of the new key passes the step; a failed one says why and stays", async () => {
    await resumeAt("confirming");
    api.testRotation.mockResolvedValueOnce({
      rotation: rotation("confirming"),
      report: report({
        verdict: "problem",
        title: "This key is disabled",
        detail: "Someone turned it off.",
        action: "Enable it on its page.",
        budget: undefined,
      }),
    });
    await fireEvent.click(screen.getByTestId("rotation-test"));
    expect(api.testRotation).toHaveBeenCalledWith("rot_1", null);
    expect(await screen.findByTestId("test-verdict")).toHaveTextContent("This key is disabled");
    expect(wizard()).toHaveAttribute("data-step", "3");

    api.testRotation.mockResolvedValueOnce({
      rotation: rotation("confirmed", { confirmation: { by: "test", at: ago(0) } }),
      report: report(),
    });
    await fireEvent.click(screen.getByTestId("rotation-test"));
    await atStep("4");
    expect(screen.getByText("Confirmed: a test with the new key connected.")).toBeInTheDocument();
  });

  it("without a keychain, asks for the new key to test it", async () => {
    const user = userEvent.setup();
    await resumeAt("confirming", {}, appState({ startup: startup({ keychainAvailable: false }) }));
    await user.click(screen.getByTestId("rotation-test"));
    expect(api.testRotation).not.toHaveBeenCalled();
    expect(screen.getByText("Paste the new key to test it.")).toBeInTheDocument();

    api.testRotation.mockResolvedValue({ rotation: rotation("confirming"), report: report() });
    await user.type(screen.getByTestId("rotation-test-input"), SECRET);
    await user.click(screen.getByTestId("rotation-test"));
    expect(api.testRotation).toHaveBeenCalledWith("rot_1", SECRET);
  });

  it("goes on without confirmation only after the risk is acknowledged", async () => {
    await resumeAt("confirming");
    expect(screen.queryByTestId("rotation-override-submit")).not.toBeInTheDocument();
    await fireEvent.click(screen.getByTestId("rotation-override"));

    expect(
      screen.getByText(/If it still uses the old one, it will stop working when the old key is revoked/),
    ).toBeInTheDocument();
    const submit = screen.getByTestId("rotation-override-submit");
    expect(submit).toBeDisabled();
    await fireEvent.click(screen.getByTestId("rotation-override-ack"));
    expect(submit).toBeEnabled();

    api.advanceRotation.mockResolvedValue(
      rotation("confirmed", { confirmation: { by: "override", at: ago(0) } }),
    );
    await fireEvent.click(submit);
    expect(api.advanceRotation).toHaveBeenCalledWith("rot_1", "override");
    await atStep("4");
    expect(screen.getByText("You chose to go on without confirmation.")).toBeInTheDocument();
  });
});

describe("rotation step 4", () => {
  it("warns when the old key was used after step 2 began", async () => {
    const usedAt = new Date(2026, 10, 24, 14, 32, 5).toISOString();
    api.resumeRotation.mockResolvedValue({ rotation: rotation("confirmed") });
    api.checkRotation.mockResolvedValue(
      rotationCheck(rotation("confirmed"), { oldUsedSinceUpdate: true, oldLastUsedAt: usedAt }),
    );
    open({ rotationId: "rot_1" });

    const warning = await screen.findByTestId("rotation-old-used-warning");
    expect(warning).toHaveTextContent("The old key was used after step 2 began");
    expect(warning).toHaveTextContent("Nov 24, 2026, 2:32 PM");
    expect(warning).toHaveTextContent("revoking it may cut that off");
    expect(api.checkRotation).toHaveBeenCalledTimes(1);
  });

  it("has no warning when the old key stayed quiet", async () => {
    await resumeAt("confirmed");
    await vi.waitFor(() => expect(api.checkRotation).toHaveBeenCalled());
    expect(screen.queryByTestId("rotation-old-used-warning")).not.toBeInTheDocument();
    expect(screen.queryByTestId("rotation-cancel")).not.toBeInTheDocument();
  });

  it("revokes once the name is typed, showing the back end's message at the field first", async () => {
    const user = userEvent.setup();
    await resumeAt("confirmed");
    const input = screen.getByTestId("rotation-revoke-input");
    expect(input).toHaveAccessibleName("Type Legacy BI to confirm");
    expect(screen.getByTestId("rotation-revoke-submit")).toBeDisabled();

    api.finishRotation.mockRejectedValueOnce(
      new BackendError({
        code: "validation",
        message: "Some fields need attention.",
        fields: [{ field: "confirmName", message: "Type the key's name exactly as shown: Legacy BI." }],
      }),
    );
    await user.type(input, "legacy bi");
    await user.click(screen.getByTestId("rotation-revoke-submit"));
    expect(api.finishRotation).toHaveBeenCalledWith("rot_1", "legacy bi");
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toHaveAccessibleDescription("Type the key's name exactly as shown: Legacy BI.");
    expect(input).toHaveFocus();

    api.finishRotation.mockResolvedValueOnce(rotation("done"));
    await user.clear(input);
    await user.type(input, "Legacy BI");
    await user.click(screen.getByTestId("rotation-revoke-submit"));
    await atStep("done");
    const done = screen.getByTestId("rotation-done");
    expect(done).toHaveTextContent("“Legacy BI” is rotated");
    expect(done).toHaveTextContent("The old key (kdk_…7hQe) is revoked");
    expect(done).toHaveTextContent("account ws_harbor/Legacy BI) holds the new key (kdk_…N3wK)");
    expect(done).toHaveTextContent("“ws_harbor/Legacy BI (previous)” is deleted");
  });

  it("can leave the old key to the server until it falls silent, and says it still works until then", async () => {
    await resumeAt("confirmed");
    api.finishRotationWhenSilent.mockRejectedValueOnce(
      new BackendError({
        code: "validation",
        message: "Some fields need attention.",
        fields: [{ field: "revokeWhenSilentSeconds", message: "Choose between 1 hour and 7 days." }],
      }),
    );
    const choice = screen.getByTestId("rotation-silent-choice");
    expect(choice).toHaveAccessibleName("Revoke it once it has been silent for");
    expect(choice).toHaveDisplayValue("1 day");
    await fireEvent.change(choice, { target: { value: String(3 * 86_400) } });
    await fireEvent.click(screen.getByTestId("rotation-silent-submit"));
    expect(api.finishRotationWhenSilent).toHaveBeenCalledWith("rot_1", 259_200);
    expect(await screen.findByRole("alert")).toHaveTextContent("Choose between 1 hour and 7 days.");
    expect(choice).toHaveAttribute("aria-invalid", "true");
    expect(wizard()).toHaveAttribute("data-step", "4");

    api.finishRotationWhenSilent.mockResolvedValueOnce(rotation("done"));
    await fireEvent.click(screen.getByTestId("rotation-silent-submit"));
    await atStep("done");
    const done = screen.getByTestId("rotation-done");
    expect(done).toHaveTextContent("“Legacy BI” is replaced");
    expect(screen.getByTestId("rotation-done-silent")).toHaveTextContent(
      "revokes the old key (kdk_…7hQe) once it has had no request for 3 days, even with Keydeck closed. Until then it still works",
    );
    expect(done).not.toHaveTextContent("is revoked: it can't be used");
    expect(api.finishRotation).not.toHaveBeenCalled();
  });

  it("does not offer to wait for silence when deleting a leaked key", async () => {
    api.resumeRotation.mockResolvedValue({ rotation: rotation("confirmed", { reason: "incident" }) });
    api.checkRotation.mockResolvedValue(rotationCheck(rotation("confirmed", { reason: "incident" })));
    open({ rotationId: "rot_1" });
    await screen.findByTestId("rotation-revoke-input");
    expect(screen.queryByTestId("rotation-silent-submit")).not.toBeInTheDocument();
  });
});

describe("resuming a rotation", () => {
  it.each([
    ["creating", "1"],
    ["created", "1"],
    ["updating", "2"],
    ["confirming", "3"],
    ["confirmed", "4"],
    ["revoking", "4"],
    ["done", "done"],
  ] as [Stage, string][])("shows the step of a rotation at %s", async (stage, step) => {
    api.resumeRotation.mockResolvedValue({ rotation: rotation(stage) });
    api.checkRotation.mockResolvedValue(rotationCheck(rotation(stage)));
    open({ rotationId: "rot_1" });
    await vi.waitFor(() => expect(wizard()).toHaveAttribute("data-stage", stage));
    expect(api.resumeRotation).toHaveBeenCalledWith("rot_1");
    expect(api.keyCard).not.toHaveBeenCalled();
    expect(wizard()).toHaveAttribute("data-step", step);
  });

  it("at step 1 without the reveal, offers to copy the new key again and go on", async () => {
    api.copyRotationKey.mockResolvedValue(undefined);
    await resumeAt("created");
    expect(screen.queryByTestId("revealed-secret")).not.toBeInTheDocument();
    expect(screen.getByText(/The replacement for “Legacy BI” \(kdk_…N3wK\) is ready/)).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId("rotation-copy-again"));
    expect(api.copyRotationKey).toHaveBeenCalledWith("rot_1");
    expect(screen.getByTestId("rotation-next")).toBeEnabled();
    expect(screen.getByTestId("rotation-cancel")).toBeInTheDocument();
  });

  it("shows the reveal when resuming repeated the creation", async () => {
    api.resumeRotation.mockResolvedValue({ rotation: rotation("created"), generated: revealOf(rotation()) });
    open({ rotationId: "rot_1" });
    expect(await screen.findByTestId("revealed-secret")).toHaveTextContent(SECRET);
  });

  it("says when the rotation can't be opened", async () => {
    api.resumeRotation.mockRejectedValue(
      new BackendError({ code: "not_found", message: "No such rotation." }),
    );
    open({ rotationId: "rot_1" });
    expect(await screen.findByText("The rotation couldn't be opened")).toBeInTheDocument();
    expect(screen.getByText("No such rotation.")).toBeInTheDocument();
  });
});

describe("a leaked key's replacement", () => {
  it("names the steps for an incident and deletes the leaked key at the end", async () => {
    api.keyCard.mockResolvedValue(legacyKey({ enabled: false, status: "disabled" }));
    open({ reason: "incident" });
    await screen.findByText("Legacy BI", { selector: "dd" });
    expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Replace “Legacy BI”");
    const steps = within(screen.getByRole("list", { name: "Steps" })).getAllByRole("listitem");
    expect(steps.map((s) => s.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      "1 Step 1: Replace",
      "2 Step 2: Update the integration",
      "3 Step 3: Confirm",
      "4 Step 4: Delete the leaked key",
    ]);
    api.startRotation.mockResolvedValue({ rotation: rotation("created", { reason: "incident" }) });
    await fireEvent.click(screen.getByTestId("rotation-create"));
    expect(api.startRotation).toHaveBeenCalledWith("k6", "incident");
  });
});

describe("rotating all due keys", () => {
  function ofKey(id: string, name: string, stage: Stage, extra: Partial<Rotation> = {}): Rotation {
    return rotation(stage, {
      id: `rot_${id}`,
      oldKey: { id, name, prefix: "kdk_XxXx", hint: "0ld0" },
      newKey: stage === "creating" ? null : { id: `${id}_new`, name, prefix: "kdk_YyYy", hint: "N3w0" },
      ...extra,
    });
  }

  it("goes through the keys one by one, with skip and cancel, and sums up", async () => {
    const names: Record<string, string> = { k5: "Finance sync", k6: "Legacy BI", k8: "Nightly export" };
    api.keyCard.mockImplementation(async (id) => legacyKey({ id, name: names[id] }));
    api.checkRotation.mockImplementation(async (id) =>
      rotationCheck(ofKey(id.slice(4), names[id.slice(4)], "confirmed")),
    );
    const { app } = open({ keyIds: ["k5", "k6", "k8"] });

    // Key 1: skipped before anything is made.
    await screen.findByText("Finance sync", { selector: "dd" });
    expect(screen.getByText(/key 1 of 3/)).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId("rotation-skip"));
    expect(api.startRotation).not.toHaveBeenCalled();

    // Key 2: rotated all the way (here by going on without confirmation).
    await screen.findByText("Legacy BI", { selector: "dd" });
    expect(screen.getByText(/key 2 of 3/)).toBeInTheDocument();
    expect(screen.getByText("“Finance sync” was skipped. Next: “Legacy BI”.")).toBeInTheDocument();
    expect(wizard()).toHaveAttribute("data-step", "1");
    api.startRotation.mockResolvedValueOnce({ rotation: ofKey("k6", "Legacy BI", "created") });
    await fireEvent.click(screen.getByTestId("rotation-create"));
    expect(api.startRotation).toHaveBeenLastCalledWith("k6", "scheduled");
    api.advanceRotation.mockResolvedValueOnce(ofKey("k6", "Legacy BI", "updating"));
    await fireEvent.click(await screen.findByTestId("rotation-next"));
    api.advanceRotation.mockResolvedValueOnce(ofKey("k6", "Legacy BI", "confirming"));
    api.checkRotation.mockImplementation(async () => rotationCheck(ofKey("k6", "Legacy BI", "confirming")));
    await fireEvent.click(await screen.findByTestId("rotation-updated"));
    await atStep("3");
    await fireEvent.click(screen.getByTestId("rotation-override"));
    await fireEvent.click(screen.getByTestId("rotation-override-ack"));
    api.advanceRotation.mockResolvedValueOnce(
      ofKey("k6", "Legacy BI", "confirmed", { confirmation: { by: "override", at: ago(0) } }),
    );
    await fireEvent.click(screen.getByTestId("rotation-override-submit"));
    await atStep("4");
    api.finishRotation.mockResolvedValueOnce(ofKey("k6", "Legacy BI", "done"));
    await fireEvent.input(screen.getByTestId("rotation-revoke-input"), { target: { value: "Legacy BI" } });
    await fireEvent.click(screen.getByTestId("rotation-revoke-submit"));

    // Key 3 starts at step 1; then its rotation is cancelled.
    await screen.findByText("Nightly export", { selector: "dd" });
    expect(wizard()).toHaveAttribute("data-step", "1");
    expect(wizard()).toHaveAttribute("data-stage", "new");
    expect(screen.getByText("“Legacy BI” is rotated. Next: “Nightly export”.")).toBeInTheDocument();
    api.startRotation.mockResolvedValueOnce({ rotation: ofKey("k8", "Nightly export", "created") });
    await fireEvent.click(screen.getByTestId("rotation-create"));
    await fireEvent.click(await screen.findByTestId("rotation-cancel"));
    api.cancelRotation.mockResolvedValue(undefined);
    await fireEvent.click(screen.getByTestId("rotation-cancel-confirm"));

    await atStep("done");
    const summary = screen.getByTestId("rotation-summary");
    expect(summary).toHaveTextContent("1 of 3 due keys rotated.");
    const rows = within(summary).getAllByRole("listitem");
    expect(rows.map((r) => [r.dataset.keyName, r.dataset.outcome])).toEqual([
      ["Finance sync", "skipped"],
      ["Legacy BI", "rotated"],
      ["Nightly export", "cancelled"],
    ]);
    expect(rows[1]).toHaveTextContent("Rotated");
    await fireEvent.click(within(summary).getByRole("button", { name: "Back to all keys" }));
    expect(app.screen).toEqual({ name: "keys" });
  });
});

describe("leaving the wizard", () => {
  it("goes back to the keys, saying the rotation waits to be resumed", async () => {
    const { app } = await resumeAt("updating");
    await fireEvent.click(screen.getByTestId("rotation-close"));
    expect(app.screen).toEqual({ name: "keys" });
    expect(app.notice).toBe("The rotation of “Legacy BI” waits at step 2. Resume it from the keys screen.");
  });

  it("says nothing extra before a replacement exists", async () => {
    api.keyCard.mockResolvedValue(legacyKey());
    const { app } = open();
    await screen.findByTestId("rotation-create");
    await fireEvent.click(screen.getByTestId("rotation-close"));
    expect(app.screen).toEqual({ name: "keys" });
    expect(app.notice).toBeNull();
  });
});
