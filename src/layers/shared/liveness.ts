/**
 * The liveness of a layer instance's slot in the instance table (assembly/leases.ts, "The
 * live word"): the instance holds the slot while the slot's live word is its claim token;
 * a sweep that finds slots running short marks them suspect, and reclaims the ones whose
 * mark nobody cleared for `livenessTimeout`. This instance clears the mark at the start of
 * every operation (the `closed` check of the shared layer) and on a timer, so it is only
 * reclaimed when its thread ran neither for that long: terminated without `watch`, or stalled.
 *
 * @module
 */

/** Ticks of the liveness clock (deciseconds, compared modulo 2^32 by the core). */
export function livenessTicks(ms: number): number {
  return Math.floor(ms / 100) >>> 0;
}

/** How often an instance clears a suspect mark: a quarter of the timeout, from 25 ms to 1 s. */
export function heartbeatMs(livenessTimeoutMs: number): number {
  return Math.min(1000, Math.max(25, Math.floor(livenessTimeoutMs / 4)));
}

/**
 * One heartbeat timer per period per thread (not per instance: a thread may hold thousands
 * of instances), visiting every instance of this thread with that period.
 */
const beats = new Map<number, { timer: ReturnType<typeof setInterval>; members: Set<SlotLiveness> }>();

function join(period: number, member: SlotLiveness): void {
  let beat = beats.get(period);
  if (beat === undefined) {
    const members = new Set<SlotLiveness>();
    const timer = setInterval(() => {
      for (const m of members) m.beat();
    }, period);
    timer.unref?.();
    beats.set(period, (beat = { timer, members }));
  }
  beat.members.add(member);
}

function leave(period: number, member: SlotLiveness): void {
  const beat = beats.get(period);
  if (beat === undefined || !beat.members.delete(member) || beat.members.size > 0) return;
  clearInterval(beat.timer);
  beats.delete(period);
}

/** Watches one instance's live word. */
export class SlotLiveness {
  /** True once the slot was reclaimed from this instance. */
  lost = false;
  private readonly period: number;

  /**
   * @param i32 the shared memory
   * @param index int32 index of the slot's live word
   * @param token this instance's claim token
   * @param livenessTimeoutMs the bus's livenessTimeout
   * @param onLost called (once) when a heartbeat finds the slot reclaimed
   */
  constructor(
    private readonly i32: Int32Array,
    readonly index: number,
    readonly token: number,
    livenessTimeoutMs: number,
    private readonly onLost: () => void,
  ) {
    this.period = heartbeatMs(livenessTimeoutMs);
    join(this.period, this);
  }

  /** The heartbeat: clear a suspect mark; tell the instance when its slot is gone. */
  beat(): void {
    if (!this.held()) {
      this.stop();
      this.onLost();
    }
  }

  /** True while the slot is this instance's; clears a suspect mark (CAS, see the module comment). */
  held(): boolean {
    if (this.lost) return false;
    const suspect = this.token | 2;
    for (;;) {
      const v = Atomics.load(this.i32, this.index);
      if (v === this.token) return true;
      if (v === suspect) {
        if (Atomics.compareExchange(this.i32, this.index, suspect, this.token) === suspect) return true;
        continue;
      }
      this.lost = true;
      return false;
    }
  }

  /** Stop the heartbeat (the instance closed). */
  stop(): void {
    leave(this.period, this);
  }
}
