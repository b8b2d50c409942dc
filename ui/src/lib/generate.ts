// What the two ways of making a key (the Generate dialog and Connect Zapier) share: how a failed
// `generateKey` shows in the form that asked for it.
import type { AppState } from "$lib/app.svelte";
import { formErrors, isCode, type FieldErrors } from "$lib/errors";

/** What a form that asked for a new key shows when `generateKey` failed. */
export interface GenerateProblem {
  /** Set when the keychain went away: the form offers the clipboard-only way, with this reason. */
  keychainProblem?: string;
  /** The server's messages at the fields the form shows. */
  fields: FieldErrors;
  /** One message for the rest, above the buttons. */
  general?: string;
}

/**
 * Sorts a failed `generateKey` for its form: no keychain; the server's validation messages, at
 * the `shown` fields or as one message; or what went wrong, `signInAgain` when the session ended
 * (the sign-in prompt opens, and nothing typed is lost).
 */
export function generateProblem(
  app: AppState,
  error: unknown,
  shown: readonly string[],
  signInAgain: string,
): GenerateProblem {
  if (isCode(error, "no_keychain")) return { keychainProblem: error.message, fields: {} };
  if (isCode(error, "validation")) return formErrors(error, shown);
  return { fields: {}, general: app.problem(error) ?? signInAgain };
}
