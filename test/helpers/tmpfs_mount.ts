import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';

/**
 * A real, small file system for tests that must fill a disk: a tmpfs mounted on a fresh
 * temporary directory. Mounting needs Linux and root (CAP_SYS_ADMIN); `tmpfsUnavailable`
 * says why it cannot, so a test can skip with that reason instead of failing.
 *
 * A tmpfs counts a page once it is written (or faulted in through a writable mapping), not
 * when a file is sized: a sparse file costs nothing, a pre-touched one its whole size. When
 * it is full, a write(2) fails with ENOSPC but a store into a mapped page kills the process
 * with SIGBUS, so a test that fills one must leave room for what the broker maps.
 *
 * Unmounting needs every process with a file open or mapped on it gone: kill children first,
 * then unmount (the teardown registered here runs after those registered later, tap running
 * teardowns last-in first-out). A busy mount is retried, then detached lazily (`umount -l`)
 * so no test run leaves a mount behind; a process exit without teardown detaches it too.
 */

const run = promisify(execFile);

export const tmpfs_mount_limits = {
  /** The probe mount of `tmpfsUnavailable`. */
  probe_size_bytes: 1 << 20,
  /** A mount is busy until the kernel has torn down a killed child's mappings. */
  unmount_attempts_max: 50,
  unmount_retry_ms: 100,
  /** One mount or umount command. */
  command_timeout_ms: 10_000,
} as const;

export interface TmpfsMount {
  /** The mount point (an empty directory at first). */
  dir: string;
  size_bytes: number;
  /** What statfs says now, counted as `df` and the broker's DiskGuard count it. */
  usage(): TmpfsUsage;
}

export interface TmpfsUsage {
  used_bytes: number;
  /** Used plus available: what the file system can hold. */
  usable_bytes: number;
  /** used / usable. */
  used_ratio: number;
}

/** undefined when this process can mount a tmpfs; otherwise why not, and what it needs. */
export function tmpfsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux to mount a tmpfs (this is ${process.platform})`;
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-tmpfs-probe-'));
  try {
    mountSync(dir, tmpfs_mount_limits.probe_size_bytes);
  } catch (error) {
    rmdirSync(dir);
    const uid = process.getuid?.() ?? -1;
    return `needs to mount a tmpfs (root, or CAP_SYS_ADMIN in a container) and could not (uid ${uid}): ${commandError(error)}`;
  }
  execFileSync('umount', [dir], { timeout: tmpfs_mount_limits.command_timeout_ms, stdio: 'pipe' });
  rmdirSync(dir);
  return undefined;
}

/** Mounts a tmpfs of `size_bytes` (whole pages) on a new directory; unmounted at `t`'s teardown. */
export function mountTmpfs(t: Test, size_bytes: number): TmpfsMount {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-tmpfs-'));
  try {
    mountSync(dir, size_bytes);
  } catch (error) {
    rmdirSync(dir);
    throw new Error(`mount -t tmpfs on ${dir} failed: ${commandError(error)}`);
  }
  let mounted = true;
  // The last resort, if the run ends without its teardowns (a crash of the test process):
  // detach at once; the kernel frees the tmpfs when its last user goes.
  const onExit = (): void => {
    if (mounted) execFileSync('umount', ['-l', dir], { timeout: tmpfs_mount_limits.command_timeout_ms, stdio: 'ignore' });
  };
  process.once('exit', onExit);
  t.teardown(async () => {
    await unmount(dir);
    mounted = false;
    process.off('exit', onExit);
    rmdirSync(dir);
  });
  return {
    dir,
    size_bytes,
    usage: () => {
      const stats = statfsSync(dir);
      const used_bytes = (stats.blocks - stats.bfree) * stats.bsize;
      const usable_bytes = used_bytes + stats.bavail * stats.bsize;
      return { used_bytes, usable_bytes, used_ratio: usable_bytes === 0 ? 0 : used_bytes / usable_bytes };
    },
  };
}

function mountSync(dir: string, size_bytes: number): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size_bytes},mode=0700`, 'tmpfs', dir], { timeout: tmpfs_mount_limits.command_timeout_ms, stdio: 'pipe' });
}

async function unmount(dir: string): Promise<void> {
  let last_error: unknown;
  for (let attempt = 0; attempt < tmpfs_mount_limits.unmount_attempts_max; attempt++) {
    try {
      await run('umount', [dir], { timeout: tmpfs_mount_limits.command_timeout_ms });
      return;
    } catch (error) {
      last_error = error;
      await new Promise((resolve) => setTimeout(resolve, tmpfs_mount_limits.unmount_retry_ms));
    }
  }
  // Still busy: something on it outlived its teardown. Detach it so that no mount is left,
  // and say so, since a process still holding files there is a leak of its own.
  await run('umount', ['-l', dir], { timeout: tmpfs_mount_limits.command_timeout_ms });
  console.error(`tmpfs ${dir} was busy after ${tmpfs_mount_limits.unmount_attempts_max} attempts (${commandError(last_error)}): detached lazily`);
}

/** A failed command's stderr, or its error message. */
function commandError(error: unknown): string {
  const stderr = (error as { stderr?: Buffer | string }).stderr;
  // mount adds a line about dmesg(1); the first line says what went wrong.
  const text = stderr === undefined ? '' : (String(stderr).trim().split('\n')[0] ?? '');
  return text !== '' ? text : error instanceof Error ? error.message : String(error);
}
