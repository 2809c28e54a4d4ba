import type { NodeTls } from '../../tls/node_tls.js';
import type { HaAccessArgs } from '../replicator/ha_access.js';

/**
 * What every store actor is spawned with. Plain data (structured-cloned into the worker);
 * the SharedArrayBuffers are shared, not copied, so every thread sees the same positions.
 */
export interface StoreArgs {
  data_dir: string;
  /** More directories (disks) the CommitLog's segments spread over, after data_dir's. */
  extra_data_dirs: string[];
  commit_log_segment_bytes: number;
  consume_queue_entries_per_segment: number;
  flush_mode: 'async' | 'sync';
  /** Sync flush: an append not covered by a flush within this answers FLUSH_DISK_TIMEOUT. */
  flush_timeout_ms: number;
  /** Async flush: how often the flush actor flushes what was written. */
  flush_interval_ms: number;
  /** Async flush: flush early once this much is written and not flushed. */
  flush_dirty_bytes: number;
  /** Append refused above this used ratio of the data disk. */
  disk_high_water_ratio: number;
  store_ipv4: number;
  store_port: number;
  /** store_control (store_control.ts). */
  control: SharedArrayBuffer;
  /** QueuePositions. */
  queue_positions: SharedArrayBuffer;
  /** The flush actor's latency histogram (storage/shared_histogram.ts); it alone writes it. */
  flush_latency: SharedArrayBuffer;
  /** The replicator's lag histogram, on a master; it alone writes it. */
  replication_lag: SharedArrayBuffer;
  /** Pre-allocate and warm the next CommitLog segment ahead of the writer. */
  preallocate: boolean;
  /** CommitLog segments last written longer ago than this are deleted (oldest first). */
  retention_ms: number;
  /** How often retention (and disk pressure) is checked. */
  retention_check_interval_ms: number;
  /** The key index (storage/key_index.ts): hash slots and entries per file. A file is
   *  64 + slots × 4 + entries × 20 bytes, sparse; it must stay under 2 GiB. */
  key_index_slots_per_file: number;
  key_index_entries_per_file: number;
  /** The timing wheel: its tick, its slots per level (lowest first), its bound on entries. */
  wheel_tick_ms: number;
  wheel_level_slots: number[];
  wheel_entries_max: number;
  /** Transactions: a half message undecided this long is checked back, and again after as long. */
  transaction_check_interval_ms: number;
  /** Check-backs before an undecided half message is rolled back. */
  transaction_check_max: number;
  /** Undecided half messages held in memory; more wait in the half queue. */
  transaction_undecided_max: number;
  /** The broker group this store belongs to (the HA handshake checks it). */
  cluster: string;
  broker_name: string;
  broker_id: number;
  /** Sync: an append is acknowledged once `replication_acks` slaves hold it (or answers
   *  FLUSH_SLAVE_TIMEOUT after `replication_timeout_ms`, SLAVE_NOT_AVAILABLE without slaves). */
  replication_mode: 'async' | 'sync';
  replication_acks: number;
  replication_timeout_ms: number;
  /** The node's TLS (PEM text, tls/node_tls.ts): the HA port serves it and a slave dials its
   *  master with it; null: plain TCP. Only the replicator reads it. */
  ha_tls: NodeTls | null;
  /** Access control on the HA port (replicator/ha_access.ts): the node's ACL file, which a
   *  master checks each slave's HA_HELLO against, and the node's account, which a slave signs
   *  its HA_HELLO with (each null: off). Only the replicator reads it. */
  ha_access: HaAccessArgs;
}
