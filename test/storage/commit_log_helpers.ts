import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { ManualClock } from '../../src/runtime/clock.js';
import { CommitLog, queueKey } from '../../src/storage/commit_log.js';
import { recoverCommitLog } from '../../src/storage/commit_log_recovery.js';
import type { RecordInput } from '../../src/storage/record.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
export { prng } from '../helpers/prng.js';

export function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const store_host = { ipv4: 0x7f000001, port: 10911 };

/**
 * The body of record `index`: `size` bytes of an 8-byte pattern unique to the index, so a
 * record read back can be checked without keeping every body in memory (Buffer.fill with a
 * pattern is native and fast).
 */
export function patternBody(index: number, size: number): Buffer {
  const pattern = Buffer.alloc(8);
  pattern.writeUInt32LE(index >>> 0, 0);
  pattern.writeUInt32LE((Math.imul(index, 0x9e3779b1) ^ size) >>> 0, 4);
  return Buffer.allocUnsafe(size).fill(pattern);
}

export function input(topic: string, queue_id: number, body: Uint8Array, properties: Uint8Array = Buffer.alloc(0)): RecordInput {
  return {
    topic,
    queue_id,
    body,
    properties,
    tag_hash: body.length,
    flags: 0,
    sys_flags: 0,
    born_timestamp: 1_700_000_000_000,
    born_host: { ipv4: 0x7f000001, port: 40000 },
    reconsume_times: 0,
    prepared_transaction_offset: 0,
  };
}

/** Opens (recovering) the CommitLog of `dir` the way the writer does at start. */
export function openCommitLog(dir: string, segment_bytes: number, options: { from_offset?: number; crashed?: boolean } = {}) {
  const segments = new SegmentSet(dir, segment_bytes, 'read-write').load();
  const queue_offsets = new Map<string, number>();
  const recovery = recoverCommitLog(segments, options.from_offset ?? 0, { zero_after_end: options.crashed ?? true }, (record) => {
    queue_offsets.set(queueKey(record.topic, record.queue_id), record.queue_offset + 1);
  });
  const log = new CommitLog(segments, { write_offset: recovery.end_offset, queue_offsets }, store_host, new ManualClock(1_700_000_000_500));
  return { log, recovery, segments };
}

