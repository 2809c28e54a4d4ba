import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureDirectoryDurable, fsyncDirectory, writeFileSynced } from './durable_file.js';

/**
 * The abort marker: a file that exists while a broker runs and is removed on a clean stop,
 * so that the next start knows whether the last run ended in a crash (RocketMQ's `abort`).
 *
 * Order of use: `create()` first thing at start, before recovery: its answer says whether
 * recovery must scan (the marker was still there) or may trust the checkpoint. Creating it
 * before recovery means that a crash during recovery is itself seen as a crash next time.
 * `remove()` last thing on a clean stop, after the final flush and checkpoint.
 *
 * Both are made durable (file and directory fsync): a marker whose creation a power loss
 * undid would hide the crash that follows it; a removal that was undone only costs a scan.
 *
 * The content (the process id and start time) is for people looking at the directory; the
 * file's existence is all the broker reads. Owned by the thread that starts and stops the
 * broker.
 */
export class AbortMarker {
  constructor(readonly path: string) {}

  /** Creates the marker; returns true when it was already there: the previous run crashed. */
  create(): boolean {
    const previous_run_crashed = existsSync(this.path);
    ensureDirectoryDurable(path.dirname(this.path));
    const note = `${JSON.stringify({ pid: process.pid, started_at: new Date().toISOString() })}\n`;
    writeFileSynced(this.path, Buffer.from(note, 'utf8'));
    fsyncDirectory(path.dirname(this.path));
    return previous_run_crashed;
  }

  /** Removes the marker after a clean stop; removing an absent marker is not an error. */
  remove(): void {
    const directory = path.dirname(this.path);
    if (!existsSync(directory)) return;
    rmSync(this.path, { force: true });
    fsyncDirectory(directory);
  }

  exists(): boolean {
    return existsSync(this.path);
  }
}
