import { closeSync, copyFileSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { assert } from '../runtime/assert.js';
import { MqError } from '../runtime/errors.js';
import { logger, type Logger } from '../runtime/log.js';

/**
 * A small file replaced whole and atomically: offsets, the checkpoint, other metadata.
 *
 * Write: the new version goes to `<name>.tmp`, which is fsynced; the current `<name>` (when
 * it is known good) is hard-linked to `<name>.bak`; then `<name>.tmp` is renamed over
 * `<name>` and the directory is fsynced. rename(2) replaces a name atomically, so after a
 * crash at any moment `<name>` holds the old or the new content, never a mix, and once
 * `write` returns the new content survives a power loss.
 *
 * Damage that a crash does not explain (a bad sector, a truncation, someone's editor) is
 * caught by the frame around the content: a header with a magic, the kind of file, versions,
 * the content length and a CRC32 over header and content. A damaged `<name>` falls back to
 * `<name>.bak`, with a warning in the log. A missing file is "no data yet".
 *
 * Frame (big-endian):
 *
 *     0        4        8          10         12           16        20
 *     ┌────────┬────────┬──────────┬──────────┬────────────┬─────────┬──────────────────────┐
 *     │ magic  │ kind   │ frame    │ content  │ content    │ crc32   │ content              │
 *     │ "MQDF" │ 4 ASCII│ version  │ version  │ length u32 │ u32     │ (content length B)   │
 *     │        │        │ u16 = 1  │ u16      │            │         │                      │
 *     └────────┴────────┴──────────┴──────────┴────────────┴─────────┴──────────────────────┘
 *
 *     crc32 = CRC-32 (zlib) of bytes 0..16 followed by the content, so a flipped bit
 *     anywhere, a version included, is detected before any field is trusted.
 *
 * The frame version belongs to this file; the content version belongs to the caller, who
 * decides which versions of its content it can read.
 *
 * Synchronous on purpose: the files are small (a write costs two fsyncs, ~0.5 ms here),
 * and a synchronous write cannot interleave with another write of the same file by the
 * same owner, which a promise-based one could (two overlapping persists sharing `.tmp`).
 *
 * Owned by one thread (the actor that owns the data). Two DurableFile objects, or two
 * processes, writing the same path at once is unsupported: the data directory belongs to
 * one broker.
 */

export const durable_frame_magic = 0x4d514446; // "MQDF"
export const durable_frame_version = 1;
export const durable_header_bytes = 20;
/**
 * Largest content. A file is read whole into memory, so the bound keeps a wrong file (a
 * segment copied into place, say) from allocating gigabytes. The largest user is the
 * offset table at its entry limit with maximal names (~72 MB, offset_store.ts).
 */
export const durable_content_bytes_max = 256 << 20;

const offset_magic = 0;
const offset_kind = 4;
const offset_frame_version = 8;
const offset_content_version = 10;
const offset_content_length = 12;
const offset_crc = 16;
const kind_pattern = /^[A-Z0-9]{4}$/;
const content_version_max = 0xffff;
/** Deepest directory chain `ensureDirectoryDurable` walks up; a data dir is a few levels deep. */
const directory_depth_max = 256;

export const temp_suffix = '.tmp';
export const backup_suffix = '.bak';

export type DurableFrameDecoded =
  | { ok: true; content_version: number; content: Buffer }
  | { ok: false; problem: string };

/** Frames `content` (copied once into the returned buffer, after the header). */
export function encodeDurableFrame(kind: string, content_version: number, content: Uint8Array): Buffer {
  assert(kind_pattern.test(kind), `durable file kind must be 4 characters [A-Z0-9], got ${JSON.stringify(kind)}`);
  assert(Number.isInteger(content_version) && content_version >= 0 && content_version <= content_version_max, `content version ${content_version} is not a u16`);
  assert(content.length <= durable_content_bytes_max, `durable file content of ${content.length} bytes exceeds ${durable_content_bytes_max}`);
  const frame = Buffer.allocUnsafe(durable_header_bytes + content.length);
  frame.writeUInt32BE(durable_frame_magic, offset_magic);
  frame.write(kind, offset_kind, 4, 'latin1');
  frame.writeUInt16BE(durable_frame_version, offset_frame_version);
  frame.writeUInt16BE(content_version, offset_content_version);
  frame.writeUInt32BE(content.length, offset_content_length);
  frame.set(content, durable_header_bytes);
  frame.writeUInt32BE(frameCrc(frame), offset_crc);
  return frame;
}

/**
 * Checks a whole file's bytes and returns its content (a view into `bytes`, not a copy), or
 * what is wrong with it in words fit for a log line. Pure: no I/O.
 */
export function decodeDurableFrame(bytes: Buffer, kind: string): DurableFrameDecoded {
  if (bytes.length < durable_header_bytes) return { ok: false, problem: `truncated: ${bytes.length} bytes, shorter than the ${durable_header_bytes}-byte header` };
  const magic = bytes.readUInt32BE(offset_magic);
  if (magic !== durable_frame_magic) return { ok: false, problem: `not a durable file: magic 0x${magic.toString(16)}, expected 0x${durable_frame_magic.toString(16)}` };
  const content_length = bytes.readUInt32BE(offset_content_length);
  const expected_bytes = durable_header_bytes + content_length;
  if (bytes.length < expected_bytes) return { ok: false, problem: `truncated: ${bytes.length} bytes, the header announces ${expected_bytes}` };
  if (bytes.length > expected_bytes) return { ok: false, problem: `${bytes.length - expected_bytes} unexpected bytes after the announced ${expected_bytes}` };
  const stored_crc = bytes.readUInt32BE(offset_crc);
  const actual_crc = frameCrc(bytes);
  if (stored_crc !== actual_crc) return { ok: false, problem: `CRC mismatch: stored 0x${stored_crc.toString(16)}, computed 0x${actual_crc.toString(16)}` };
  // Only now, with the CRC good, are the remaining fields trusted.
  const file_kind = bytes.toString('latin1', offset_kind, offset_kind + 4);
  if (file_kind !== kind) return { ok: false, problem: `a ${JSON.stringify(file_kind)} file where a ${JSON.stringify(kind)} file belongs` };
  const frame_version = bytes.readUInt16BE(offset_frame_version);
  if (frame_version !== durable_frame_version) return { ok: false, problem: `frame version ${frame_version}, this mq-node reads version ${durable_frame_version}: written by a newer mq-node?` };
  return { ok: true, content_version: bytes.readUInt16BE(offset_content_version), content: bytes.subarray(durable_header_bytes) };
}

function frameCrc(frame: Buffer): number {
  return crc32(frame.subarray(durable_header_bytes), crc32(frame.subarray(0, offset_crc)));
}

/** Steps of a write, in order, at which a test's fault probe may throw to stand for a crash. */
export type DurableWriteStep = 'tmp_written' | 'tmp_synced' | 'backup_linked' | 'backup_replaced' | 'renamed';

export interface DurableFileOptions {
  /** The file; `<path>.tmp` and `<path>.bak` live beside it. */
  path: string;
  /** Four characters [A-Z0-9] naming what the file holds ('OFFS', 'CKPT'): a file of another kind is refused. */
  kind: string;
  log?: Logger;
  /**
   * Fault injection for tests: called after each step of a write. Throwing there stops the
   * write and leaves the files as a crash at that point would (the open descriptor is closed).
   */
  fault_probe?: (step: DurableWriteStep) => void;
}

export interface DurableContent {
  content: Buffer;
  content_version: number;
  /** 'backup' when the main file was missing or damaged and `<name>.bak` was read instead. */
  source: 'main' | 'backup';
}

type Candidate = { state: 'missing' } | { state: 'bad'; problem: string } | { state: 'good'; content_version: number; content: Buffer };

export class DurableFile {
  readonly path: string;
  readonly temp_path: string;
  readonly backup_path: string;
  readonly kind: string;
  private readonly log: Logger;
  private readonly fault_probe: (step: DurableWriteStep) => void;
  private directory_ready = false;
  /**
   * True when the main file is known to hold a good version (this object wrote it, or read
   * it and its CRC matched). Only then is it kept as `.bak`: backing up a file we have not
   * checked could replace a good backup with a damaged one.
   */
  private main_known_good = false;

  constructor(options: DurableFileOptions) {
    assert(kind_pattern.test(options.kind), `durable file kind must be 4 characters [A-Z0-9], got ${JSON.stringify(options.kind)}`);
    this.path = options.path;
    this.temp_path = options.path + temp_suffix;
    this.backup_path = options.path + backup_suffix;
    this.kind = options.kind;
    this.log = options.log ?? logger('durable_file', { file: options.path, kind: options.kind });
    this.fault_probe = options.fault_probe ?? ((): void => {});
  }

  /** Replaces the file's content; when this returns, the new content is durable. */
  write(content: Uint8Array, content_version: number): void {
    const frame = encodeDurableFrame(this.kind, content_version, content);
    const directory = path.dirname(this.path);
    if (!this.directory_ready) {
      ensureDirectoryDurable(directory);
      this.directory_ready = true;
    }
    writeFileSynced(this.temp_path, frame, () => this.fault_probe('tmp_written'));
    this.fault_probe('tmp_synced');
    if (this.main_known_good) this.keepBackup();
    // From here until the rename is durable, a crash leaves the old main in place, or the
    // new one: rename(2) never exposes a half-replaced name.
    this.main_known_good = false;
    renameSync(this.temp_path, this.path);
    this.fault_probe('renamed');
    fsyncDirectory(directory);
    this.main_known_good = true;
  }

  /**
   * The content, from the main file or, if that is missing or damaged, from the backup;
   * undefined when neither exists (no data yet). Throws MqError when data existed but no
   * good copy is left.
   */
  read(): DurableContent | undefined {
    const main = readCandidate(this.path, this.kind);
    if (main.state === 'good') {
      this.main_known_good = true;
      return { content: main.content, content_version: main.content_version, source: 'main' };
    }
    this.main_known_good = false;
    const backup = readCandidate(this.backup_path, this.kind);
    if (backup.state === 'good') {
      const main_problem = main.state === 'missing' ? 'missing' : main.problem;
      this.log.warn({ problem: main_problem, backup: this.backup_path }, 'durable file missing or damaged: using its backup (the previous version)');
      return { content: backup.content, content_version: backup.content_version, source: 'backup' };
    }
    if (main.state === 'missing' && backup.state === 'missing') return undefined;
    const main_words = main.state === 'missing' ? 'is missing' : `is damaged (${main.problem})`;
    const backup_words = backup.state === 'missing' ? 'there is no backup' : `its backup is damaged too (${backup.problem})`;
    throw new MqError(
      'INTERNAL',
      `${this.path} ${main_words} and ${backup_words}: the ${this.kind} data cannot be read. ` +
        `Restore the file from a replica or a copy, or delete ${this.path} and ${this.backup_path} to start without that data.`,
    );
  }

  /** Hard-links the current main file as `.bak` (atomically replacing the old backup). */
  private keepBackup(): void {
    const staging_path = this.backup_path + temp_suffix;
    rmSync(staging_path, { force: true });
    try {
      linkSync(this.path, staging_path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return; // removed by someone else since we wrote it: nothing to keep
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw error;
      // A file system without hard links: copy instead (the bytes are written twice).
      copyFileSync(this.path, staging_path);
      fsyncFile(staging_path);
    }
    this.fault_probe('backup_linked');
    renameSync(staging_path, this.backup_path);
    // When a crash left `.bak` and the main file as links to one file, rename(2) between two
    // links of the same file succeeds without doing anything: the staging name stays.
    rmSync(staging_path, { force: true });
    this.fault_probe('backup_replaced');
  }
}

function readCandidate(file_path: string, kind: string): Candidate {
  let fd: number;
  try {
    fd = openSync(file_path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'bad', problem: `cannot open: ${(error as Error).message}` };
  }
  try {
    const size_bytes = fstatSync(fd).size;
    if (size_bytes > durable_header_bytes + durable_content_bytes_max) {
      return { state: 'bad', problem: `${size_bytes} bytes, more than the largest durable file (${durable_header_bytes + durable_content_bytes_max})` };
    }
    const bytes = Buffer.allocUnsafe(size_bytes);
    let filled = 0;
    // Bounded: every round reads at least one byte or ends the loop.
    while (filled < size_bytes) {
      const read = readSync(fd, bytes, filled, size_bytes - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    const decoded = decodeDurableFrame(bytes.subarray(0, filled), kind);
    if (!decoded.ok) return { state: 'bad', problem: decoded.problem };
    return { state: 'good', content_version: decoded.content_version, content: decoded.content };
  } catch (error) {
    return { state: 'bad', problem: `cannot read: ${(error as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

/** Creates or truncates `file_path`, writes `bytes` and fsyncs it. `after_write` runs before the fsync. */
export function writeFileSynced(file_path: string, bytes: Uint8Array, after_write: () => void = () => {}): void {
  const fd = openSync(file_path, 'w', 0o644);
  try {
    let written = 0;
    while (written < bytes.length) {
      const count = writeSync(fd, bytes, written, bytes.length - written);
      assert(count > 0, `writeSync to ${file_path} wrote nothing`);
      written += count;
    }
    after_write();
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncFile(file_path: string): void {
  const fd = openSync(file_path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes the directory's entries (names created, renamed or removed in it) durable. On Linux
 * a file's fsync does not cover its name; without this a power loss can undo a rename.
 */
export function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates `directory` and its missing parents, and makes each new name durable in its parent. */
export function ensureDirectoryDurable(directory: string): void {
  const first_created = mkdirSync(directory, { recursive: true });
  if (first_created === undefined) return;
  const top = path.resolve(first_created);
  let current = path.resolve(directory);
  for (let depth = 0; depth < directory_depth_max; depth++) {
    fsyncDirectory(path.dirname(current));
    if (current === top) return;
    current = path.dirname(current);
  }
  assert(false, `ensureDirectoryDurable: ${directory} is deeper than ${directory_depth_max} levels below ${first_created}`);
}
