import type { StoreControl } from './store_control.js';

/**
 * Where a follower of the CommitLog (dispatch, the key index) may read up to, from the
 * control block: the write offset under async flush, the flush offset under sync flush, so
 * what it builds covers only records durable per the flush mode. The sequence comes first,
 * then the offset: a writer that publishes in between bumps the sequence, and a wait on it
 * returns at once instead of missing the publish.
 */
export function readableEnd(control: StoreControl, flush_mode: 'async' | 'sync'): { offset: number; seq: number } {
  if (flush_mode === 'sync') return { seq: control.load('flush_seq'), offset: control.load('flush_offset') };
  return { seq: control.load('write_seq'), offset: control.load('write_offset') };
}

/** Resolves once the readable end's sequence moved past `seen_seq`, or after `timeout_ms`. */
export function readableEndMoved(control: StoreControl, flush_mode: 'async' | 'sync', seen_seq: number, timeout_ms: number): Promise<unknown> {
  return control.waitAsync(flush_mode === 'sync' ? 'flush_seq' : 'write_seq', seen_seq, timeout_ms);
}
