// Time as the dispatcher sees it: the real clock in servers, a simulated one in bench/schedule and tests.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimer(fn: () => void, ms: number): Timer;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/** A discrete-event clock: timers fire in time order when run() advances it; nothing waits for real time. */
export class SimulatedClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const t = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, live: true };
    // Kept sorted by (at, seq); insertion by binary search.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.timers[mid];
      if (m.at < t.at || (m.at === t.at && m.seq < t.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, t);
    return { cancel: () => (t.live = false) };
  }

  /**
   * Fires timers in order until none is left or `until` returns true. Between two events it lets pending
   * promises settle (a Describe answer, say), as they would between two real events. With no timer left it
   * waits up to idleMs of real time for one (I/O outside the simulation, such as a real store).
   */
  async run(until: () => boolean = () => false, maxEvents = 50_000_000, idleMs = 0): Promise<void> {
    let idle = 0;
    for (let n = 0; n < maxEvents && !until(); n++) {
      if (this.timers.length === 0) {
        // Real I/O in flight (a durable store's write) may still set timers: wait for it, up to idleMs.
        if (idle >= idleMs) break;
        await new Promise<void>((resolve) => setTimeout(resolve, 1));
        idle++;
        continue;
      }
      idle = 0;
      const t = this.timers.shift()!;
      if (!t.live) continue;
      this.time = t.at;
      t.fn();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
