// The words and rules the screens show (scope names, status, plan and role labels, expiry
// presets, purpose presets, defaults, bounds), as core defines them: `make bindings` writes
// backend/vocabulary.json from `keydeck_core::app::Vocabulary`, and a Rust test fails when the
// file is stale. Nothing here is a copy to keep in step by hand.
import type { Purpose, PresetView, Vocabulary } from "$lib/backend";
import generated from "$lib/backend/vocabulary.json";

export const vocabulary = generated as Vocabulary;

/** A purpose's preset (every purpose has one). */
export function presetOf(purpose: Purpose, presets: readonly PresetView[] = vocabulary.presets): PresetView {
  const preset =
    presets.find((p) => p.purpose === purpose) ?? vocabulary.presets.find((p) => p.purpose === purpose);
  if (!preset) throw new Error(`core defines no preset for ${purpose}`);
  return preset;
}
