// The key list's filters: which cards each shows, counted for the filter buttons.
import type { KeyCardView } from "$lib/backend";

export type FilterId = "all" | "active" | "disabled" | "expired" | "never_used" | "rotation_due";

export const FILTERS: readonly { id: FilterId; label: string; matches: (view: KeyCardView) => boolean }[] = [
  { id: "all", label: "All", matches: () => true },
  { id: "active", label: "Active", matches: (v) => v.card.status === "active" },
  { id: "disabled", label: "Disabled", matches: (v) => v.card.status === "disabled" },
  { id: "expired", label: "Expired", matches: (v) => v.card.status === "expired" },
  { id: "never_used", label: "Never used", matches: (v) => v.card.lastUsedAt === null },
  { id: "rotation_due", label: "Rotation due", matches: (v) => v.rotationDue },
];

export function applyFilter(keys: readonly KeyCardView[], id: FilterId): KeyCardView[] {
  const filter = FILTERS.find((f) => f.id === id) ?? FILTERS[0];
  return keys.filter(filter.matches);
}

export function countFilters(keys: readonly KeyCardView[]): Record<FilterId, number> {
  return Object.fromEntries(FILTERS.map((f) => [f.id, keys.filter(f.matches).length])) as Record<
    FilterId,
    number
  >;
}
