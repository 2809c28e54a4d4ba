import { MqError } from '../runtime/errors.js';
import type { Logger } from '../runtime/log.js';
import { DurableFile } from './durable_file.js';
import { readU64, writeU64 } from './record.js';

/**
 * The master epochs of this CommitLog: where each master's writes start (Kafka's leader
 * epoch cache). A broker promoted at epoch E appends (E, its log's end); a slave stores its
 * master's history, handed over in the HA handshake. Two logs agree up to where the
 * epoch both know last ends in the master's history — past it, a returning old master holds
 * bytes nobody acknowledged, and cuts them (the master's `truncationPoint`).
 *
 *   0          4                      12                     20
 *   +----------+----------------------+----------------------+---- ...
 *   | count u32| epoch (u64)          | start offset (u64)   | ...   (count entries, epochs ascending)
 *   +----------+----------------------+----------------------+---- ...
 *
 * In a DurableFile: written whole, atomically. Owned by the replicator's thread.
 */
export interface EpochEntry {
  epoch: number;
  start_offset: number;
}

export const epoch_history_limits = {
  /** Oldest entries are dropped beyond this (a log that old is long gone by retention). */
  entries_max: 1_024,
} as const;

const content_version = 1;
const entry_bytes = 16;

export class EpochHistory {
  private readonly file: DurableFile;
  private entries: EpochEntry[] = [];

  constructor(file_path: string, log: Logger) {
    this.file = new DurableFile({ path: file_path, kind: 'EPCH', log });
  }

  load(): this {
    const read = this.file.read();
    if (read === undefined) return this;
    const content = read.content;
    const count = content.length >= 4 ? content.readUInt32LE(0) : -1;
    if (read.content_version !== content_version || content.length !== 4 + count * entry_bytes) {
      throw new MqError('INTERNAL', `epoch history ${this.file.path}: content version ${read.content_version}, ${content.length} bytes; this build reads version ${content_version}`);
    }
    this.entries = Array.from({ length: count }, (_, index) => ({ epoch: readU64(content, 4 + index * entry_bytes), start_offset: readU64(content, 12 + index * entry_bytes) }));
    return this;
  }

  get list(): readonly EpochEntry[] {
    return this.entries;
  }

  /** The last epoch this log knows (0 for a log never led by an epoch of its own). */
  get last_epoch(): number {
    return this.entries.at(-1)?.epoch ?? 0;
  }

  /** A new master's epoch starting at `start_offset` (this broker promoted, or its master's). */
  begin(epoch: number, start_offset: number): void {
    const last = this.entries.at(-1);
    if (last !== undefined && epoch <= last.epoch) return;
    this.entries.push({ epoch, start_offset });
    if (this.entries.length > epoch_history_limits.entries_max) this.entries.splice(0, this.entries.length - epoch_history_limits.entries_max);
    this.persist();
  }

  /** Takes the master's history as this log's own (a slave, at its handshake). */
  replaceWith(entries: readonly EpochEntry[]): void {
    if (sameEntries(entries, this.entries)) return;
    this.entries = entries.slice(-epoch_history_limits.entries_max).map((entry) => ({ ...entry }));
    this.persist();
  }

  /**
   * Where a log whose last epoch is `epoch` stops agreeing with this one: the start of the
   * first epoch after it here, or `end_offset` (this log's end) when it is this log's last.
   */
  truncationPoint(epoch: number, end_offset: number): number {
    const next = this.entries.find((entry) => entry.epoch > epoch);
    return next === undefined ? end_offset : next.start_offset;
  }

  private persist(): void {
    const content = Buffer.alloc(4 + this.entries.length * entry_bytes);
    content.writeUInt32LE(this.entries.length, 0);
    this.entries.forEach((entry, index) => {
      writeU64(content, 4 + index * entry_bytes, entry.epoch);
      writeU64(content, 12 + index * entry_bytes, entry.start_offset);
    });
    this.file.write(content, content_version);
  }
}

function sameEntries(a: readonly EpochEntry[], b: readonly EpochEntry[]): boolean {
  return a.length === b.length && a.every((entry, index) => entry.epoch === b[index]?.epoch && entry.start_offset === b[index]?.start_offset);
}
