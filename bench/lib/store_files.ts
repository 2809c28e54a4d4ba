import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A fresh directory under the system temp dir for one case, removed when `use` settles,
 * whether it resolved or threw. All of a run's files sit on the same disk as os.tmpdir(),
 * so the raw-disk figure and the store figures describe the same device.
 */
export async function withTempDir<T>(prefix: string, use: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), `mq-bench-${prefix}-`));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const mebibyte_bytes = 1 << 20;

/** Megabytes (10^6 bytes) per second. */
export function megabytesPerSecond(bytes: number, elapsed_ms: number): number {
  return elapsed_ms > 0 ? bytes / 1e3 / elapsed_ms : 0;
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
