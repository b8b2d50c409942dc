import { describe, expect, it } from "vitest";
import { BackendError } from "$lib/backend";
import { appState } from "../test/fixtures";
import { generateProblem } from "./generate";

const SIGN_IN = "Sign in again, then generate the key.";

describe("a failed generate", () => {
  it("offers the clipboard-only way when the keychain went away", () => {
    const error = new BackendError({ code: "no_keychain", message: "The keychain is locked." });
    expect(generateProblem(appState(), error, ["name"], SIGN_IN)).toEqual({
      keychainProblem: "The keychain is locked.",
      fields: {},
    });
  });

  it("puts the server's messages at the fields shown, the rest above the buttons", () => {
    const error = new BackendError({
      code: "validation",
      message: "Some fields need attention.",
      fields: [
        { field: "name", message: "Use at least 3 characters." },
        { field: "scopes", message: "Choose a permission." },
      ],
    });
    expect(generateProblem(appState(), error, ["name"], SIGN_IN)).toEqual({
      fields: { name: "Use at least 3 characters." },
      general: "Choose a permission.",
    });
  });

  it("says what went wrong, or to sign in again when the session ended", () => {
    const app = appState();
    const unreachable = new BackendError({ code: "unreachable", message: "The server didn't answer." });
    expect(generateProblem(app, unreachable, ["name"], SIGN_IN).general).toBe("The server didn't answer.");
    const signedOut = new BackendError({ code: "signed_out", message: "Your session ended." });
    expect(generateProblem(app, signedOut, ["name"], SIGN_IN).general).toBe(SIGN_IN);
    expect(app.signInPrompt).not.toBeNull();
  });
});
