import { avroCodec, defineProtocol } from '../../src/runtime/actor_protocol.js';

/** The runtime bench's sink actor: counts `data` messages; `mark` answers the count so far. */
export type BenchSinkMessage = { kind: 'data'; payload: Buffer } | { kind: 'mark' };

export const bench_sink_protocol = defineProtocol<BenchSinkMessage, number>(
  'bench.sink',
  { data: [{ name: 'payload', type: 'bytes' }], mark: [] },
  avroCodec<number>('long'),
);

export const bench_sink_module_url = new URL('./bench_sink_actor.js', import.meta.url).href;

export interface BenchSinkArgs {
  /** A bench_progress_block the sink keeps up to date for the main thread. */
  progress: SharedArrayBuffer;
}
