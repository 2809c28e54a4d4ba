import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeNsLogEntry, encodeNsLogEntry, type NsLogEntry } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { fsyncDirectory, writeFileSynced } from '../../storage/durable_file.js';
import { decodeRegistrySnapshot, encodeRegistrySnapshot, type RegistrySnapshot } from './registry_snapshot.js';

/**
 * The registry on disk, so that a restarted nameserver resumes from its own sequence number
 * instead of copying the whole registry again. Two files in the journal directory:
 *
 *   registry.snapshot   +-------+--------+-----------+-------------------------------+
 *                       | magic | crc32  | length    | RegistrySnapshot (Avro)        |
 *                       | u32   | u32    | u32       | the state after entry `seq`    |
 *                       +-------+--------+-----------+-------------------------------+
 *   registry.log        frames, appended:
 *                       +--------+--------+----------------------------------+
 *                       | length | crc32  | NsLogEntry (ns_log_entry_v1)      |  ...
 *                       | u32    | u32    |                                  |
 *                       +--------+--------+----------------------------------+
 *
 * A snapshot is written to a temporary file, fsynced and renamed over the old one; then the
 * log starts empty. Log frames are written without fsync: they survive a killed process
 * (the page cache keeps them); after a machine crash a lost tail is copied again from the
 * other nameservers. A torn or corrupt frame ends the log where it starts.
 *
 * Owned by the registry actor's thread.
 */
export class RegistryJournal {
  private log_fd = -1;
  private readonly snapshot_path: string;
  private readonly log_path: string;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.snapshot_path = join(dir, 'registry.snapshot');
    this.log_path = join(dir, 'registry.log');
  }

  /** Reads what the directory holds: the snapshot (if any) and the entries after it. */
  open(): { snapshot: RegistrySnapshot | undefined; entries: NsLogEntry[] } {
    mkdirSync(this.dir, { recursive: true });
    const snapshot = existsSync(this.snapshot_path) ? this.readSnapshot() : undefined;
    this.log_fd = openSync(this.log_path, 'a+');
    const bytes = readFileSync(this.log_path);
    const entries: NsLogEntry[] = [];
    let position = 0;
    let expected = (snapshot?.seq ?? 0) + 1;
    while (position + frame_head_bytes <= bytes.length) {
      const length = bytes.readUInt32LE(position);
      const end = position + frame_head_bytes + length;
      if (end > bytes.length) break;
      const payload = bytes.subarray(position + frame_head_bytes, end);
      if (crc32(payload) !== bytes.readUInt32LE(position + 4)) break;
      const decoded = decodeNsLogEntry(payload);
      if (!decoded.ok) break;
      const entry = decoded.value;
      if (entry.seq >= expected) {
        if (entry.seq !== expected) break;
        entries.push(entry);
        expected++;
      }
      position = end;
    }
    if (position < bytes.length) {
      this.log.warn({ file: this.log_path, kept_bytes: position, dropped_bytes: bytes.length - position }, 'registry log ends in a torn or corrupt frame; dropped from there');
      ftruncateSync(this.log_fd, position);
    }
    return { snapshot, entries };
  }

  append(entries: readonly NsLogEntry[]): void {
    if (entries.length === 0) return;
    const frames = entries.map((entry) => {
      const payload = encodeNsLogEntry(entry);
      const head = Buffer.allocUnsafe(frame_head_bytes);
      head.writeUInt32LE(payload.length, 0);
      head.writeUInt32LE(crc32(payload), 4);
      return Buffer.concat([head, payload]);
    });
    const all = Buffer.concat(frames);
    let written = 0;
    while (written < all.length) written += writeSync(this.log_fd, all, written, all.length - written);
  }

  /** Makes `snapshot` the journal's start: every entry up to its seq is in it. */
  writeSnapshot(snapshot: RegistrySnapshot): void {
    const payload = encodeRegistrySnapshot(snapshot);
    const head = Buffer.allocUnsafe(snapshot_head_bytes);
    head.writeUInt32LE(snapshot_magic, 0);
    head.writeUInt32LE(crc32(payload), 4);
    head.writeUInt32LE(payload.length, 8);
    const temporary = `${this.snapshot_path}.tmp`;
    writeFileSynced(temporary, Buffer.concat([head, payload]));
    renameSync(temporary, this.snapshot_path);
    fsyncDirectory(this.dir);
    ftruncateSync(this.log_fd, 0);
  }

  /** Bytes in the log file (for the decision to snapshot). */
  logBytes(): number {
    return fstatSync(this.log_fd).size;
  }

  close(): void {
    if (this.log_fd >= 0) closeSync(this.log_fd);
    this.log_fd = -1;
  }

  private readSnapshot(): RegistrySnapshot {
    const bytes = readFileSync(this.snapshot_path);
    const length = bytes.length >= snapshot_head_bytes ? bytes.readUInt32LE(8) : -1;
    if (length < 0 || bytes.readUInt32LE(0) !== snapshot_magic || snapshot_head_bytes + length !== bytes.length) {
      throw new MqError('INTERNAL', `${this.snapshot_path} is not a registry snapshot; move it away (the nameserver then copies the registry from its peers)`);
    }
    const payload = bytes.subarray(snapshot_head_bytes);
    if (crc32(payload) !== bytes.readUInt32LE(4)) {
      throw new MqError('INTERNAL', `${this.snapshot_path} fails its checksum; move it away (the nameserver then copies the registry from its peers)`);
    }
    return decodeRegistrySnapshot(payload);
  }
}

const frame_head_bytes = 8;
const snapshot_head_bytes = 12;
/** "RSNP" */
const snapshot_magic = 0x504e5352;
