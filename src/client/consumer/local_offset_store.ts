import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MqError } from '../../runtime/errors.js';
import { messageQueueKey, type MessageQueue } from './message_queue.js';
import { no_committed_offset, type CommittedOffset, type OffsetStore } from './offset_store.js';

export const local_offset_store_limits = {
  /** A larger file is not one this store wrote. */
  file_bytes_max: 16 << 20,
  file_version: 1,
} as const;

interface OffsetFile {
  version: number;
  group: string;
  /** messageQueueKey -> the next offset to consume. */
  offsets: Record<string, number>;
}

/**
 * A broadcasting member's offsets, in a file of its own: every member consumes every queue
 * and keeps its own position, so the group's offsets on the broker (one per queue) cannot
 * hold them. The file is `<dir>/<group>/<instance>.json`, written whole to a temporary file,
 * fsynced and renamed over the old one, so a crash leaves the old or the new table, never a
 * torn one. A lock file beside it (holding the owner's pid) keeps two live processes from
 * sharing one table; a lock left by a process that is gone is taken over.
 * (RocketMQ keeps broadcasting offsets locally too, in ~/.rocketmq_offsets.)
 */
export class LocalOffsetStore implements OffsetStore {
  private readonly offsets = new Map<string, { queue: MessageQueue | undefined; offset: number }>();
  private dirty = false;
  private locked = false;
  private writing: Promise<void> = Promise.resolve();

  readonly file: string;
  private readonly lock_file: string;

  constructor(
    dir: string,
    private readonly group: string,
    instance_name: string,
  ) {
    this.file = path.join(dir, group, `${instance_name}.json`);
    this.lock_file = `${this.file}.lock`;
  }

  async open(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    await this.lock();
    try {
      await this.load();
    } catch (error) {
      await fs.rm(this.lock_file, { force: true });
      this.locked = false;
      throw error;
    }
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      const stat = await fs.stat(this.file);
      if (stat.size > local_offset_store_limits.file_bytes_max) throw this.badFile(`it is ${stat.size} bytes`);
      text = await fs.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // a new member
      throw error;
    }
    let parsed: OffsetFile;
    try {
      parsed = JSON.parse(text) as OffsetFile;
    } catch {
      throw this.badFile('it is not JSON');
    }
    if (parsed.version !== local_offset_store_limits.file_version || typeof parsed.offsets !== 'object' || parsed.offsets === null) {
      throw this.badFile(`it is not a version ${local_offset_store_limits.file_version} offset table`);
    }
    for (const [key, offset] of Object.entries(parsed.offsets)) {
      if (Number.isSafeInteger(offset) && offset >= 0) this.offsets.set(key, { queue: undefined, offset });
    }
  }

  async read(queue: MessageQueue): Promise<number> {
    return this.offsets.get(messageQueueKey(queue))?.offset ?? no_committed_offset;
  }

  update(queue: MessageQueue, offset: number): void {
    const key = messageQueueKey(queue);
    const entry = this.offsets.get(key);
    if (entry !== undefined && entry.offset === offset) return;
    this.offsets.set(key, { queue, offset });
    this.dirty = true;
  }

  /** Writes the whole table when anything changed; `queues` is ignored (one file holds all). */
  async persist(): Promise<CommittedOffset[]> {
    if (!this.dirty) return [];
    this.dirty = false;
    const snapshot = [...this.offsets.entries()];
    const table: OffsetFile = { version: local_offset_store_limits.file_version, group: this.group, offsets: Object.fromEntries(snapshot.map(([key, entry]) => [key, entry.offset])) };
    // Writes are chained: two persists never interleave their temporary files.
    const write = this.writing.then(() => this.writeFile(JSON.stringify(table)));
    this.writing = write.catch(() => undefined);
    try {
      await write;
    } catch (error) {
      this.dirty = true;
      throw new MqError('INTERNAL', `could not write the offsets of group ${this.group} to ${this.file}: ${(error as Error).message}`, { retriable: true });
    }
    return snapshot.filter(([, entry]) => entry.queue !== undefined).map(([, entry]) => ({ queue: entry.queue as MessageQueue, offset: entry.offset }));
  }

  /** A broadcasting member keeps its position in a queue that left the route, for when it comes back. */
  forget(): void {}

  async close(): Promise<void> {
    try {
      await this.persist();
    } finally {
      if (this.locked) await fs.rm(this.lock_file, { force: true });
      this.locked = false;
    }
  }

  private async writeFile(text: string): Promise<void> {
    const temporary = `${this.file}.${process.pid}.tmp`;
    const handle = await fs.open(temporary, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, this.file);
  }

  private async lock(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(this.lock_file, String(process.pid), { flag: 'wx' });
        this.locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number((await fs.readFile(this.lock_file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new MqError('BAD_REQUEST', `broadcasting offsets ${this.file} are in use by process ${owner}; give each member on this host its own instanceName (or offsetDir)`);
      }
      if (owner === process.pid) {
        throw new MqError('BAD_REQUEST', `broadcasting offsets ${this.file} are in use by another consumer of group ${this.group} in this process; give each its own instanceName`);
      }
      await fs.rm(this.lock_file, { force: true }); // left by a process that is gone
    }
    throw new MqError('BAD_REQUEST', `could not lock ${this.lock_file}: another process takes it at the same time`);
  }

  private badFile(why: string): MqError {
    return new MqError('BAD_REQUEST', `broadcasting offsets ${this.file} cannot be read: ${why}; move it away to start this member from fromWhere`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
