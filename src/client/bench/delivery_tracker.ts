import type { Stamp } from './bench_payload.js';

export const delivery_tracker_limits = {
  /** Runs told apart at once; stamps of further runs are counted as untracked. */
  runs_max: 16,
  /** Sequence numbers tracked per run (a bit each: 12.5 MB at the bench's count_max). */
  seq_max: 100_000_000,
  /** A run's bitmap starts this large and doubles as higher sequence numbers arrive. */
  bitmap_bytes_initial: 1_024,
} as const;

/**
 * Which stamped messages were seen, per run: one bit per sequence number, so duplicates
 * (at-least-once redelivery) are counted exactly. Memory is bounded by runs_max x seq_max bits.
 * Used on the consumer's thread only.
 */
export class DeliveryTracker {
  private readonly runs = new Map<number, { bits: Uint8Array; unique: number }>();
  unique = 0;
  duplicates = 0;
  /** Stamped messages of runs beyond runs_max, or with a sequence number beyond seq_max. */
  untracked = 0;

  /** Records one delivery; true when it is the first of its (run, seq). */
  see(stamp: Stamp): boolean {
    const { run_id, seq } = stamp;
    if (seq >= delivery_tracker_limits.seq_max) return this.untrack();
    let run = this.runs.get(run_id);
    if (run === undefined) {
      if (this.runs.size >= delivery_tracker_limits.runs_max) return this.untrack();
      run = { bits: new Uint8Array(delivery_tracker_limits.bitmap_bytes_initial), unique: 0 };
      this.runs.set(run_id, run);
    }
    const byte = seq >>> 3;
    if (byte >= run.bits.length) {
      let length = run.bits.length;
      while (length <= byte) length *= 2;
      const grown = new Uint8Array(length); // copies the bitmap: rare, it doubles
      grown.set(run.bits);
      run.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if ((run.bits[byte] as number) & mask) {
      this.duplicates++;
      return false;
    }
    run.bits[byte] = (run.bits[byte] as number) | mask;
    run.unique++;
    this.unique++;
    return true;
  }

  /** Distinct messages seen of one run. */
  uniqueOf(run_id: number): number {
    return this.runs.get(run_id)?.unique ?? 0;
  }

  private untrack(): boolean {
    this.untracked++;
    return true;
  }
}
