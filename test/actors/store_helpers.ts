import type { Test } from 'tap';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import type { RecordInput } from '../../src/storage/record.js';
import { Store, type StoreOptions } from '../../src/actors/store/store.js';
import type { StoreReader } from '../../src/storage/store_reader.js';
import { tagHash } from '../../src/storage/tag_hash.js';

/** Small segments so tests roll often. */
export const small_store = {
  commit_log_segment_bytes: 1 << 20,
  consume_queue_entries_per_segment: 1_000,
  flush_interval_ms: 50,
} as const;

export async function openStore(t: Test, options: StoreOptions, threads = 2): Promise<{ system: ActorSystem; store: Store }> {
  const system = await startActorSystem({ threads });
  let store: Store | undefined;
  t.teardown(async () => {
    await store?.close().catch(() => undefined);
    await system.stop();
  });
  store = await Store.open(system, options);
  return { system, store };
}

export function record(topic: string, queue_id: number, body: Buffer, tag = 'tag-a'): RecordInput {
  return {
    topic,
    queue_id,
    body,
    properties: Buffer.from(`TAGS\u0001${tag}\u0002`),
    tag_hash: tagHash(tag),
    flags: 0,
    sys_flags: 0,
    born_timestamp: Date.now(),
    born_host: { ipv4: 0x7f000001, port: 40000 },
    reconsume_times: 0,
    prepared_transaction_offset: 0,
  };
}

/** Waits (bounded) until the queue's published max offset reaches `count`. */
export async function untilDispatched(reader: StoreReader, topic: string, queue_id: number, count: number, timeout_ms = 20_000): Promise<void> {
  const deadline = performance.now() + timeout_ms;
  while ((reader.window(topic, queue_id)?.max_offset ?? 0) < count) {
    if (performance.now() > deadline) throw new Error(`queue ${topic}/${queue_id} reached ${reader.window(topic, queue_id)?.max_offset ?? 'nothing'} of ${count} within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Pulls a whole queue from `from` in pages; returns the bodies. */
export function pullAll(reader: StoreReader, topic: string, queue_id: number, from = 0): { bodies: Buffer[]; offsets: number[] } {
  const bodies: Buffer[] = [];
  const offsets: number[] = [];
  let next = from;
  for (let page = 0; page < 100_000; page++) {
    const result = reader.pull(topic, queue_id, next, { max_count: 512 });
    if (result.status !== 'found') break;
    for (const view of result.records) {
      bodies.push(Buffer.from(view.body));
      offsets.push(view.queue_offset);
    }
    next = result.next_queue_offset;
  }
  return { bodies, offsets };
}
