import { afterEach, describe, expect, it, vi } from "vitest";
import { poll } from "./poll";

afterEach(() => {
  vi.useRealTimers();
});

describe("polling", () => {
  it("runs a round every interval, at once only when asked, and stops", async () => {
    vi.useFakeTimers();
    const round = vi.fn(async () => {});
    const stop = poll(round, 2000);
    expect(round).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(4000);
    expect(round).toHaveBeenCalledTimes(2);
    stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(round).toHaveBeenCalledTimes(2);

    const first = vi.fn(async () => {});
    poll(first, 2000, { immediately: true })();
    expect(first).toHaveBeenCalledTimes(1);
  });

  it("skips a round while the last one waits, or while paused", async () => {
    vi.useFakeTimers();
    let answer = () => {};
    const round = vi.fn(() => new Promise<void>((resolve) => (answer = resolve)));
    let paused = false;
    const stop = poll(round, 1000, { immediately: true, paused: () => paused });
    await vi.advanceTimersByTimeAsync(3000);
    expect(round).toHaveBeenCalledTimes(1);
    answer();
    await vi.advanceTimersByTimeAsync(1000);
    expect(round).toHaveBeenCalledTimes(2);
    answer();
    paused = true;
    await vi.advanceTimersByTimeAsync(3000);
    expect(round).toHaveBeenCalledTimes(2);
    stop();
  });

  it("tells a round that answers after the stop that it is stale", async () => {
    let answer = () => {};
    let stale: boolean | undefined;
    const stop = poll(
      async (stopped) => {
        await new Promise<void>((resolve) => (answer = resolve));
        stale = stopped();
      },
      1000,
      { immediately: true },
    );
    stop();
    answer();
    await vi.waitFor(() => expect(stale).toBe(true));
  });
});
