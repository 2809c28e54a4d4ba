import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../runtime/log.js';
import { DurableFile } from './durable_file.js';
import { configDir } from './storage_paths.js';

/**
 * Every (topic, queue) that ever got an entry, persisted in `config/queues`. Recovery compares
 * it with the ConsumeQueue directories on disk: a queue listed here with no directory (deleted
 * by an operator, lost with a disk) is rebuilt from the CommitLog. Appended to rarely (when the
 * dispatch actor meets a queue for the first time), so the whole file is rewritten each time.
 * Owned by the dispatch actor; read at start by recovery.
 */
export class KnownQueues {
  private readonly file: DurableFile;
  private readonly queues = new Set<string>();

  constructor(data_dir: string, log: Logger) {
    fs.mkdirSync(configDir(data_dir), { recursive: true });
    this.file = new DurableFile({ path: path.join(configDir(data_dir), 'queues'), kind: 'QUES', log });
  }

  load(): this {
    const stored = this.file.read();
    if (stored !== undefined) for (const key of JSON.parse(stored.content.toString('utf8')) as string[]) this.queues.add(key);
    return this;
  }

  has(topic: string, queue_id: number): boolean {
    return this.queues.has(keyOf(topic, queue_id));
  }

  list(): Array<{ topic: string; queue_id: number }> {
    return [...this.queues].map((key) => {
      const at = key.lastIndexOf('/');
      return { topic: key.slice(0, at), queue_id: Number(key.slice(at + 1)) };
    });
  }

  /** Records a queue; written before the queue's first entry, so a crash never forgets one. */
  add(topic: string, queue_id: number): void {
    const key = keyOf(topic, queue_id);
    if (this.queues.has(key)) return;
    this.queues.add(key);
    this.file.write(Buffer.from(JSON.stringify([...this.queues].sort()), 'utf8'), 1);
  }
}

function keyOf(topic: string, queue_id: number): string {
  return `${topic}/${queue_id}`;
}
