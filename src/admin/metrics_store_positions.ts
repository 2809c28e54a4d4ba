import type { Store } from '../actors/store/store.js';
import { store_control } from '../storage/store_control.js';

/**
 * A broker's CommitLog positions as `/metrics` shows them: read from the store control block
 * (SharedArrayBuffer slots, each with one writer, read here with Atomics) at scrape time.
 */
export interface StorePositions {
  /** The end of the last whole record: bytes below it are readable. */
  write_offset_bytes: number;
  /** Bytes below it are on disk. */
  flush_offset_bytes: number;
  /** On a master with slaves connected: the written bytes that `replication_acks` in-sync
   *  slaves do not hold yet. 0 on a slave, and on a master without slaves (nothing to lag). */
  replication_lag_bytes: number;
  /** On a master: slaves connected (handshake done), and those within the in-sync gap. */
  slaves_connected: number;
  slaves_in_sync: number;
}

/**
 * The positions of a broker's store. How many slaves are connected is not in the control
 * block, so the replicator is asked once (per scrape): without it a master that never had a
 * slave would show its whole log since it became master as lag.
 */
export async function readStorePositions(store: Store): Promise<StorePositions> {
  const status = await store.replicator.ask({ kind: 'status' });
  // Read after the answer, so that the offsets are at least as new as the slave count.
  const control = store_control.attach(store.args.control);
  const write_offset = control.load('write_offset');
  const replicating = status.role === 'master' && status.slaves > 0;
  return {
    write_offset_bytes: write_offset,
    flush_offset_bytes: control.load('flush_offset'),
    replication_lag_bytes: replicating ? Math.max(0, write_offset - control.load('replicated_offset')) : 0,
    slaves_connected: status.role === 'master' ? status.slaves : 0,
    slaves_in_sync: status.role === 'master' ? control.load('replicas_in_sync') : 0,
  };
}
