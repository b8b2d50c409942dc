import { describe, expect, it, vi } from "vitest";
import { BackendError } from "$lib/backend";
import { appState, report } from "../test/fixtures";
import { KeyTest } from "./keytest.svelte";

function submitEvent(): SubmitEvent {
  return new Event("submit", { cancelable: true }) as SubmitEvent;
}

describe("a key test", () => {
  it("asks for the key when it has to be pasted, then runs with it", async () => {
    const run = vi.fn(async () => report());
    const test = new KeyTest(appState(), { run, needsPaste: () => true, missing: "Paste the key." });

    await test.submit(submitEvent());
    expect(run).not.toHaveBeenCalled();
    expect(test.error).toBe("Paste the key.");
    expect(test.invalid).toBe(true);

    test.pasted = "kdk_AbCd";
    expect(test.invalid).toBe(false);
    await test.submit(submitEvent());
    expect(run).toHaveBeenCalledWith("kdk_AbCd");
    expect(test.error).toBeUndefined();
    expect(test.report?.verdict).toBe("connected");
    expect(test.busy).toBe(false);
  });

  it("runs without a pasted key when none is needed", async () => {
    const run = vi.fn(async () => report());
    const test = new KeyTest(appState(), { run, needsPaste: () => false, missing: "Paste the key." });
    await test.submit(submitEvent());
    expect(run).toHaveBeenCalledWith("");
  });

  it("says what went wrong, or to sign in again when the session ended", async () => {
    const app = appState();
    const run = vi.fn();
    const test = new KeyTest(app, {
      run,
      needsPaste: () => false,
      missing: "Paste the key.",
      signInAgain: "Sign in again, then run the test.",
    });

    run.mockRejectedValueOnce(
      new BackendError({ code: "unreachable", message: "The server didn't answer." }),
    );
    await test.submit(submitEvent());
    expect(test.error).toBe("The server didn't answer.");

    run.mockRejectedValueOnce(new BackendError({ code: "signed_out", message: "Your session ended." }));
    await test.submit(submitEvent());
    expect(test.error).toBe("Sign in again, then run the test.");
    expect(app.signInPrompt?.message).toBe("Your session ended.");
  });
});
