// The words and small facts of a rotation, shared by the wizard and the keys screen (the step
// a rotation is at comes from the back end, with the rotation): the steps' names for a planned rotation and for a leaked
// key, which keys are due, the expiry a replacement gets, and the key's keychain addresses.
// Pure functions, so the screens word a rotation the same way and tests can pin them.
import type { ExpiresInDays, KeyCard, KeyCardView, RateLimit, Rotation, RotationReason } from "$lib/backend";
import { plural } from "$lib/format";

export type StepNumber = 1 | 2 | 3 | 4;

/** The four steps' short names, in plain words. */
export function stepLabels(reason: RotationReason): [string, string, string, string] {
  return reason === "incident"
    ? ["Replace", "Update the integration", "Confirm", "Delete the leaked key"]
    : ["Create the replacement", "Update the integration", "Confirm it works", "Revoke the old key"];
}

/** Keys the "Rotate all due keys" button rotates: due or expiring soon, and not expired. */
export function isDue(view: KeyCardView): boolean {
  return (view.rotationDue || view.expiresSoon) && view.card.status !== "expired";
}

const PRESETS: readonly ExpiresInDays[] = [7, 30, 90, 180, 365];

/**
 * The expiry a replacement gets: the nearest preset at least as long as the time the old key
 * was given (the back end's `Template::of`), or null for a key that never expires.
 */
export function replacementExpiry(card: Pick<KeyCard, "createdAt" | "expiresAt">): ExpiresInDays | null {
  if (!card.expiresAt) return null;
  const hours = (new Date(card.expiresAt).getTime() - new Date(card.createdAt).getTime()) / 3_600_000;
  const days = Math.floor((Math.floor(hours) + 23) / 24);
  return PRESETS.find((p) => p >= days) ?? 365;
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

/** The keychain account a key lives at: `<workspace id>/<key name>` (service `keydeck`). */
export function keychainAccount(rotation: Pick<Rotation, "workspaceId" | "oldKey">): string {
  return `${rotation.workspaceId}/${rotation.oldKey.name}`;
}

/** Where the old secret waits during a rotation, until step 4 deletes it. */
export function previousAccount(rotation: Pick<Rotation, "workspaceId" | "oldKey">): string {
  return `${keychainAccount(rotation)} (previous)`;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The Linux command that reads a keychain account (Secret Service names the account `username`). */
export function secretToolCommand(account: string): string {
  return `secret-tool lookup service keydeck username ${shellQuote(account)}`;
}
