import { defineControlBlock, type ControlBlockDefinition, type ControlBlockLayout } from '../runtime/control_block.js';

/**
 * A cumulative histogram in a SharedArrayBuffer: one thread observes (one Atomics add per
 * slot per observation, no message), any thread reads it whole (the admin server, at scrape
 * time). Used for what actors measure on their own threads: flush latency, replication lag.
 *
 *   count   observations
 *   total   their sum, in units of `scale` (integers in an i64 slot: µs for seconds, say)
 *   le_<i>  observations at most bounds[i] (cumulative, as Prometheus buckets are; the
 *           +Inf bucket is `count`)
 */
export interface HistogramSnapshot {
  count: number;
  sum: number;
  /** Cumulative counts per bound, in order. */
  buckets: number[];
}

export class SharedHistogramDefinition {
  readonly block: ControlBlockDefinition<ControlBlockLayout>;

  /** `scale`: the sum is kept as round(value × scale) (1e6 keeps seconds as µs). */
  constructor(
    name: string,
    readonly bounds: readonly number[],
    private readonly scale: number,
  ) {
    const layout: ControlBlockLayout = { count: 'i64', total: 'i64', ...Object.fromEntries(bounds.map((_, index) => [`le_${index}`, 'i64'])) };
    this.block = defineControlBlock(name, layout, { padding: 'packed' });
  }

  create(): SharedArrayBuffer {
    return this.block.create().sab;
  }

  /** For the one observing thread. */
  recorder(sab: SharedArrayBuffer): (value: number) => void {
    const block = this.block.attach(sab);
    // Written from the widest bucket down and read from the narrowest up, with the count
    // written first and read last: a reader never sees a bucket above a wider one or above
    // the count, however an observation interleaves with its reads.
    return (value) => {
      block.add('count', 1);
      block.add('total', Math.round(value * this.scale));
      for (let index = this.bounds.length - 1; index >= 0; index--) if (value <= (this.bounds[index] as number)) block.add(`le_${index}`, 1);
    };
  }

  /** Any thread: slots are read one by one, so an observation made meanwhile may show in
   *  some and not yet in others (never more than the observations of that moment apart). */
  read(sab: SharedArrayBuffer): HistogramSnapshot {
    const block = this.block.attach(sab);
    const buckets = this.bounds.map((_, index) => block.load(`le_${index}`));
    const sum = block.load('total') / this.scale;
    return { buckets, sum, count: block.load('count') };
  }
}

/** How long each CommitLog flush (the fdatasync of every segment it covers) took, seconds.
 *  Observed by the flush actor. */
export const flush_latency_histogram = new SharedHistogramDefinition(
  'flush_latency',
  [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  1e6,
);

/** How far behind the master's log end the slaves were when their acknowledgement moved the
 *  replicated offset, bytes. Observed by the replicator on a master. */
export const replication_lag_histogram = new SharedHistogramDefinition(
  'replication_lag',
  [0, 1024, 16 * 1024, 64 * 1024, 256 * 1024, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20],
  1,
);
