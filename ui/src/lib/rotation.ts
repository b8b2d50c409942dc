// The words of a rotation, shared by the wizard and the keys screen: the steps' names for a
// planned rotation and for a leaked key, and how an expiry or a rate limit reads. The facts
// (the step, which keys are due, the replacement's expiry, the keychain addresses) come from
// the back end with each card and rotation. Pure functions, so the screens word a rotation the
// same way and tests can pin them.
import type { ExpiresInDays, RateLimit, RotationReason } from "$lib/backend";
import { plural } from "$lib/format";
import { vocabulary } from "$lib/vocabulary";

export type StepNumber = 1 | 2 | 3 | 4;

/** The four steps' short names, in plain words. */
export function stepLabels(reason: RotationReason): [string, string, string, string] {
  return reason === "incident"
    ? ["Replace", "Update the integration", "Confirm", "Delete the leaked key"]
    : ["Create the replacement", "Update the integration", "Confirm it works", "Revoke the old key"];
}

/** "90 days after it is made", "Never". */
export function expiryPresetText(days: ExpiresInDays | null): string {
  if (days === null) return "Never";
  return days === 365 ? "1 year after it is made" : `${days} days after it is made`;
}

/** "Up to 100 requests per 60 seconds", "No limit". */
export function rateLimitText(limit: RateLimit): string {
  if (!limit.enabled) return "No limit";
  return `Up to ${plural(limit.maxRequests, "request")} per ${plural(limit.windowSeconds, "second")}`;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The Linux command that reads a keychain account (Secret Service names the account `username`). */
export function secretToolCommand(account: string): string {
  return `secret-tool lookup service ${vocabulary.keychainService} username ${shellQuote(account)}`;
}
