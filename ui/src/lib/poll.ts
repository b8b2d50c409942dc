// Watching something on the server: one round every few seconds, never two at once, until the
// screen that watches goes away.
import { untrack } from "svelte";

export interface PollOptions {
  /** Runs the first round at once too, rather than after `ms`. */
  immediately?: boolean;
  /** Rounds are skipped while this holds (the sign-in prompt is open). */
  paused?: () => boolean;
}

/**
 * Runs `round` every `ms` milliseconds, skipping a round while the previous one is still under
 * way. Answers the function that stops it (an $effect's cleanup); `round` reads `stopped()`
 * after its await, as its answer is stale once the polling has stopped.
 */
export function poll(
  round: (stopped: () => boolean) => Promise<void>,
  ms: number,
  { immediately = false, paused }: PollOptions = {},
): () => void {
  let stopped = false;
  let inFlight = false;
  async function once() {
    if (inFlight || paused?.()) return;
    inFlight = true;
    try {
      await round(() => stopped);
    } finally {
      inFlight = false;
    }
  }
  // The first round runs inside the caller's $effect: what it reads must not become the
  // effect's dependencies.
  if (immediately) untrack(() => void once());
  const timer = setInterval(() => void once(), ms);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
