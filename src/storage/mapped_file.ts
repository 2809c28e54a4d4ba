import fs from 'node:fs';
import mmapModule from '@riaskov/mmap-io';
import { assert } from '../runtime/assert.js';
import { MqError } from '../runtime/errors.js';

const mmap = mmapModule as unknown as typeof mmapModule.default;
export const page_bytes = mmap.PAGESIZE;

export type MapMode = 'read-write' | 'read-only';

/** madvise(MADV_REMOVE) on Linux (not among the binding's constants): frees a range's pages
 *  and their backing store, as a hole punched through the file. The binding passes the
 *  number through to madvise; its declared type lists only the constants it exports. */
const madv_remove = 9 as unknown as typeof mmap.MADV_DONTNEED;

/**
 * One segment file of fixed size, mapped MAP_SHARED. Every thread that needs a segment maps
 * it itself (a mapped Buffer sent to another thread arrives as a copy); the kernel shares
 * the pages, so what the writer's mapping stores, a reader's mapping sees.
 *
 * Ownership: a read-write MappedFile belongs to the one writer of its log; read-only ones to
 * any reader thread. Only the writer writes; a reader must never write (a write into a
 * read-only mapping kills the process with SIGSEGV).
 *
 * Memory release: the binding has no munmap. The mapping is released when its Buffer is
 * garbage-collected (or the thread exits), so `close` drops this object's only reference;
 * callers must not keep views of `buffer` beyond the segment's life.
 */
export class MappedFile {
  private mapped: Buffer | undefined;

  private constructor(
    readonly path: string,
    readonly start_offset: number,
    readonly size_bytes: number,
    readonly mode: MapMode,
    private fd: number,
    mapped: Buffer,
  ) {
    this.mapped = mapped;
  }

  /** Creates the file at its full size (sparse) if missing, then maps it read-write. */
  static create(path: string, start_offset: number, size_bytes: number): MappedFile {
    assertSegmentSize(size_bytes);
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      const existing = fs.fstatSync(fd).size;
      if (existing === 0) fs.ftruncateSync(fd, size_bytes);
      else checkSize(path, existing, size_bytes);
      return new MappedFile(path, start_offset, size_bytes, 'read-write', fd, mapFd(fd, size_bytes, 'read-write'));
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  /** Maps an existing segment file; its size must be the configured segment size. */
  static open(path: string, start_offset: number, size_bytes: number, mode: MapMode): MappedFile {
    assertSegmentSize(size_bytes);
    const fd = fs.openSync(path, mode === 'read-write' ? fs.constants.O_RDWR : fs.constants.O_RDONLY);
    try {
      checkSize(path, fs.fstatSync(fd).size, size_bytes);
      return new MappedFile(path, start_offset, size_bytes, mode, fd, mapFd(fd, size_bytes, mode));
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  get buffer(): Buffer {
    assert(this.mapped !== undefined, `segment ${this.path} is closed`);
    return this.mapped;
  }

  get end_offset(): number {
    return this.start_offset + this.size_bytes;
  }

  get closed(): boolean {
    return this.mapped === undefined;
  }

  /** Makes the file's written pages durable (fdatasync covers pages dirtied by any mapping). */
  flush(): void {
    fs.fdatasyncSync(this.fd);
  }

  /** The same on libuv's thread pool: the calling thread's event loop keeps turning. */
  flushAsync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (error) => (error ? reject(error) : resolve())));
  }

  /**
   * Faults in (and so allocates) every page from `from_position` on by writing a zero byte
   * into each. Only for the part of a segment known to be zero (past the write position):
   * touching fresh pages is slow on this machine (~330 MB/s), so doing it ahead of the
   * writer keeps that cost off the append path.
   */
  warm(from_position = 0): void {
    assert(this.mode === 'read-write', 'warm needs a read-write mapping');
    const buffer = this.buffer;
    for (let position = alignUp(from_position); position < this.size_bytes; position += page_bytes) buffer[position] = 0;
  }

  /** Tells the kernel the pages are read front to back (more read-ahead). */
  adviseSequential(): void {
    mmap.advise(this.buffer, mmap.MADV_SEQUENTIAL);
  }

  close(): void {
    if (this.mapped === undefined) return;
    this.mapped = undefined;
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** Removes the file's name; the mapping (and the file's disk blocks) stay until close. */
  unlink(): void {
    fs.rmSync(this.path, { force: true });
  }

  /**
   * Gives the file's disk blocks back now, whatever other mappings of it live on: a file
   * system frees an unlinked file only when its last mapping goes, and a mapping goes only
   * when its Buffer is garbage-collected, in every thread that mapped it — on an idle broker
   * with a full disk, perhaps never. MADV_REMOVE punches a hole through the whole file
   * instead; every mapping reads zeros from then on, so only a file that nothing reads any
   * more may be released (SegmentSet retires a segment first). False where the file system
   * cannot punch holes: its blocks come back with the last mapping, as before.
   */
  releaseBlocks(): boolean {
    assert(this.mode === 'read-write', 'releasing blocks needs a read-write mapping');
    if (this.mapped === undefined || process.platform !== 'linux') return false;
    try {
      mmap.advise(this.mapped, madv_remove);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes and removes the file. */
  destroy(): void {
    this.close();
    fs.rmSync(this.path, { force: true });
  }
}

function mapFd(fd: number, size_bytes: number, mode: MapMode): Buffer {
  const protection = (mode === 'read-write' ? mmap.PROT_READ | mmap.PROT_WRITE : mmap.PROT_READ) as 3;
  return mmap.map(size_bytes, protection, mmap.MAP_SHARED, fd, 0);
}

function checkSize(path: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new MqError('INTERNAL', `segment ${path} is ${actual} bytes, the configured segment size is ${expected}: the data dir was written with another segment size, or the file was damaged`);
  }
}

function assertSegmentSize(size_bytes: number): void {
  // The binding takes 32-bit sizes: a mapping must stay under 2 GiB. Sizes need not be a
  // page multiple (a ConsumeQueue segment is 300,000 × 20 bytes); the mapping's offset is 0.
  assert(Number.isInteger(size_bytes) && size_bytes > 0 && size_bytes < 2 ** 31, `segment size must be 1 byte .. 2 GiB, got ${size_bytes}`);
}

function alignUp(position: number): number {
  return Math.ceil(position / page_bytes) * page_bytes;
}
