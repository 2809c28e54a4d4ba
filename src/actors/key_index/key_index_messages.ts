import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

export type KeyIndexMessage =
  /** Internal: follow the CommitLog a step further. */
  | { kind: 'tick' }
  /**
   * Candidate CommitLog offsets of records of `topic` carrying `key`, newest first, at most
   * `limit` (capped at key_index_limits.lookup_results_max), stored within
   * [begin_ms, end_ms] (inclusive; default: any time). Candidates only: the caller reads each
   * record and checks its topic and keys (hashes collide).
   */
  | { kind: 'lookup'; topic: string; key: string; limit: number; begin_ms?: number; end_ms?: number }
  | { kind: 'status' };

/** One reply for every message (`offsets` is empty but for 'lookup'). */
export interface KeyIndexReply {
  offsets: number[];
  /** Every CommitLog record below this offset is indexed. */
  covered_offset: number;
  files: number;
  entries: number;
}

/** Stands for "no upper bound" in `end_ms` (an Avro long cannot be absent on the wire): the
 *  largest long avsc encodes from a JavaScript number, 2^52 ms (the year ~144,000). */
export const key_index_time_max_ms = 2 ** 52;

export const key_index_protocol = defineProtocol<KeyIndexMessage, KeyIndexReply>(
  'store.key_index',
  {
    tick: [],
    lookup: [
      { name: 'topic', type: 'string' },
      { name: 'key', type: 'string' },
      { name: 'limit', type: 'int' },
      { name: 'begin_ms', type: 'long', default: 0 },
      { name: 'end_ms', type: 'long', default: key_index_time_max_ms },
    ],
    status: [],
  },
  avroCodec<KeyIndexReply>({
    type: 'record',
    name: 'KeyIndexReply',
    fields: [
      { name: 'offsets', type: { type: 'array', items: 'long' } },
      { name: 'covered_offset', type: 'long' },
      { name: 'files', type: 'int' },
      { name: 'entries', type: 'long' },
    ],
  }),
);

export const key_index_address = 'store/key-index';
export const key_index_module_url = new URL('./key_index_actor.js', import.meta.url).href;
