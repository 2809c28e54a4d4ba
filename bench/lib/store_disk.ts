import fs from 'node:fs';
import path from 'node:path';
import { CpuMeter, mainThreadId, type CpuUse } from './store_cpu.js';
import { nowMs } from './timing.js';
import { megabytesPerSecond, mebibyte_bytes, round, withTempDir } from './store_files.js';

/** One raw sequential-write measurement of the disk under os.tmpdir(). */
export interface RawDiskResult {
  name: string;
  block_bytes: number;
  /** fdatasync after every this many bytes; null: only once, at the end. */
  sync_every_bytes: number | null;
  bytes: number;
  /** Time in write() calls (including the periodic fdatasyncs). */
  write_ms: number;
  /** The last fdatasync. */
  final_fdatasync_ms: number;
  elapsed_ms: number;
  /** Bytes over write time plus every fdatasync: what `dd conv=fdatasync` reports. */
  mb_per_s: number;
  cpu: CpuUse;
}

export interface RawDiskBudget {
  bytes_max: number;
  duration_ms: number;
}

const block_bytes = mebibyte_bytes;

/**
 * Writes 1 MiB blocks to a new file with fs.writeSync, fdatasync every `sync_every_bytes`
 * (or only at the end), and times the whole, final fdatasync included. The block is one
 * reused buffer of non-zero bytes, so the loop costs only the kernel's copy into the page
 * cache and the device's write-back: the same work a CommitLog flush makes the disk do.
 */
export async function measureRawDisk(sync_every_bytes: number | null, budget: RawDiskBudget): Promise<RawDiskResult> {
  const block = Buffer.alloc(block_bytes, 0x5a);
  return withTempDir('raw', (dir) => {
    const fd = fs.openSync(path.join(dir, 'raw.bin'), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    try {
      let bytes = 0;
      let since_sync = 0;
      const cpu = new CpuMeter(new Map([['main', mainThreadId()]]));
      cpu.start();
      const started_ms = nowMs();
      const deadline_ms = started_ms + budget.duration_ms;
      while (bytes < budget.bytes_max) {
        let written = 0;
        while (written < block_bytes) written += fs.writeSync(fd, block, written, block_bytes - written);
        bytes += block_bytes;
        since_sync += block_bytes;
        if (sync_every_bytes !== null && since_sync >= sync_every_bytes) {
          fs.fdatasyncSync(fd);
          since_sync = 0;
        }
        if (nowMs() > deadline_ms) break;
      }
      const written_ms = nowMs();
      fs.fdatasyncSync(fd);
      const ended_ms = nowMs();
      const cpu_use = cpu.stop();
      const elapsed_ms = ended_ms - started_ms;
      return {
        name: sync_every_bytes === null ? '1 MiB writes, fdatasync at the end' : `1 MiB writes, fdatasync every ${sync_every_bytes / mebibyte_bytes} MiB`,
        block_bytes,
        sync_every_bytes,
        bytes,
        write_ms: round(written_ms - started_ms, 1),
        final_fdatasync_ms: round(ended_ms - written_ms, 1),
        elapsed_ms: round(elapsed_ms, 1),
        mb_per_s: round(megabytesPerSecond(bytes, elapsed_ms), 1),
        cpu: cpu_use,
      };
    } finally {
      fs.closeSync(fd);
    }
  });
}
