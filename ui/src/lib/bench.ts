// Bench-only hooks, inert unless the shell was started with KEYDECK_BENCH (it then injects
// window.__KEYDECK_BENCH__ before this code runs). `make bench` measures the time to the first
// key card against a blank page of the same binary, and generate-to-reveal latency.
import { backend } from "$lib/backend";

export const benchMode: string | undefined = (window as unknown as { __KEYDECK_BENCH__?: string })
  .__KEYDECK_BENCH__;

let reported = false;

/** Tells the shell, once, that the page has painted (two frames after the call). */
export function markPainted(): void {
  if (!benchMode || reported) return;
  reported = true;
  requestAnimationFrame(() => requestAnimationFrame(() => void backend.benchPainted()));
}
