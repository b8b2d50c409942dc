// How Keydeck words things for people: scopes, dates, relative times, expiry, counts. Pure
// functions of their inputs (the current time is passed in), so every screen words a fact the
// same way and tests can pin the clock.
import type { ExpiresInDays, KeyCard, KeyStatus, Plan, Role, Scope } from "$lib/backend";
import { vocabulary } from "$lib/vocabulary";

/** Every scope, in the order the API lists them, with the words people see (from core). */
export const SCOPES: readonly { scope: Scope; label: string; description: string }[] = vocabulary.scopes;

export function scopeLabel(scope: Scope): string {
  return SCOPES.find((s) => s.scope === scope)?.label ?? scope;
}

/** Scopes in the API's order, whatever order they came in. */
export function sortScopes(scopes: readonly Scope[]): Scope[] {
  return SCOPES.map((s) => s.scope).filter((s) => scopes.includes(s));
}

/** The expiries a key may be given, and "Never". */
export const EXPIRY_CHOICES: readonly { value: ExpiresInDays | null; label: string }[] = [
  ...vocabulary.expiryPresets.map((days) => ({
    value: days,
    label: days === 365 ? "In 1 year" : `In ${days} days`,
  })),
  { value: null, label: "Never" },
];

export const STATUS_LABELS = Object.fromEntries(
  vocabulary.statuses.map((s) => [s.status, s.label]),
) as Record<KeyStatus, string>;

export const PLAN_LABELS = Object.fromEntries(vocabulary.plans.map((p) => [p.plan, p.label])) as Record<
  Plan,
  string
>;

export const ROLE_LABELS = Object.fromEntries(vocabulary.roles.map((r) => [r.role, r.label])) as Record<
  Role,
  string
>;

/** Whether a plan includes API access (core's rule). */
export function planHasApi(plan: Plan): boolean {
  return vocabulary.plans.some((p) => p.plan === plan && p.hasApiAccess);
}

/** Whether a role may manage keys (core's rule). */
export function canManageKeys(role: Role): boolean {
  return vocabulary.roles.some((r) => r.role === role && r.canManageKeys);
}

/** The part of a key people may see: "kdk_…abcd" (a card, or its hint). */
export function keyHint(of: Pick<KeyCard, "hint"> | string): string {
  return `${vocabulary.keyPrefix}…${typeof of === "string" ? of : of.hint}`;
}

const dateFormat = new Intl.DateTimeFormat("en", { day: "numeric", month: "short", year: "numeric" });
const dateTimeFormat = new Intl.DateTimeFormat("en", {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const requestTimeFormat = new Intl.DateTimeFormat("en", {
  day: "numeric",
  month: "short",
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
});
const timeFormat = new Intl.DateTimeFormat("en", { hour: "numeric", minute: "2-digit", second: "2-digit" });
const shortDayFormat = new Intl.DateTimeFormat("en", { day: "numeric", month: "short", timeZone: "UTC" });
const longDayFormat = new Intl.DateTimeFormat("en", {
  weekday: "long",
  day: "numeric",
  month: "long",
  timeZone: "UTC",
});
const numberFormat = new Intl.NumberFormat("en");
const relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "always" });
// "yesterday" and "tomorrow" read well after "Last used" and "Expires"; "last month" does not.
const relativeDayFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "Nov 24, 2026" */
export function formatDate(iso: string): string {
  return dateFormat.format(new Date(iso));
}

/** "Nov 24, 2026, 2:32 PM" */
export function formatDateTime(iso: string): string {
  return dateTimeFormat.format(new Date(iso));
}

/** "Nov 24, 2:32:05 PM": when a request arrived, to the second. */
export function formatRequestTime(iso: string): string {
  return requestTimeFormat.format(new Date(iso));
}

/** "2:32:05 PM" */
export function formatTime(iso: string): string {
  return timeFormat.format(new Date(iso));
}

/** A calendar day ("2026-11-24") as "Nov 24"; `long` gives "Tuesday, November 24". */
export function formatDay(day: string, long = false): string {
  const date = new Date(`${day.slice(0, 10)}T00:00:00Z`);
  return (long ? longDayFormat : shortDayFormat).format(date);
}

export function formatNumber(n: number): string {
  return numberFormat.format(n);
}

/** "1 request", "1,204 requests" */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatNumber(n)} ${n === 1 ? one : many}`;
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** "just now", "12 seconds ago", "in 3 days", "yesterday". */
export function relativeTime(iso: string, now: number): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Math.abs(seconds) < 5) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return (unit === "day" ? relativeDayFormat : relativeFormat).format(Math.round(seconds / size), unit);
    }
  }
  return relativeFormat.format(seconds, "second");
}

/** "Last used 2 minutes ago" or "Never used". */
export function lastUsedText(card: Pick<KeyCard, "lastUsedAt">, now: number): string {
  return card.lastUsedAt ? `Last used ${relativeTime(card.lastUsedAt, now)}` : "Never used";
}

/** "Expires in 3 days", "Expires tomorrow", "Never expires", "Expired on Nov 3, 2026". */
export function expiryText(card: Pick<KeyCard, "expiresAt">, now: number): string {
  if (!card.expiresAt) return "Never expires";
  const at = new Date(card.expiresAt).getTime();
  if (at <= now) return `Expired on ${formatDate(card.expiresAt)}`;
  return `Expires ${relativeTime(card.expiresAt, now)}`;
}

/** "Added Nov 1, 2026 by Ana Silva" */
export function addedText(card: Pick<KeyCard, "createdAt" | "createdBy">): string {
  return `Added ${formatDate(card.createdAt)} by ${card.createdBy.name}`;
}

/** "12 s", "2 min 5 s" */
export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.round(total));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  return rest ? `${m} min ${rest} s` : `${m} min`;
}

/** A span in the largest whole unit: 3600 → "1 hour", 172800 → "2 days", 90 → "90 seconds". */
export function durationWords(seconds: number): string {
  const units: [number, string][] = [
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  const [size, unit] = units.find(([size]) => seconds >= size && seconds % size === 0) ?? [1, "second"];
  return plural(seconds / size, unit);
}
