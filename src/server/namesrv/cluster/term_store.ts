import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { MqError } from '../../../runtime/errors.js';
import { fsyncDirectory, writeFileSynced } from '../../../storage/durable_file.js';

/** What a nameserver must never forget across a restart: the highest term it has seen and
 *  whom it voted for in it (else it could vote twice in one term, and two leaders win it). */
export interface TermRecord {
  term: number;
  voted_for: string;
}

export interface TermStore {
  load(): TermRecord;
  save(record: TermRecord): void;
}

/**
 * The term record in `<dir>/election.json`, replaced atomically (temporary file, fsync,
 * rename, directory fsync) before any vote or term change is acted on. A few bytes per
 * election: JSON is fine here. Owned by the nameserver's main thread.
 */
export class FileTermStore implements TermStore {
  private readonly path: string;

  constructor(private readonly dir: string) {
    this.path = join(dir, 'election.json');
  }

  load(): TermRecord {
    mkdirSync(this.dir, { recursive: true });
    if (!existsSync(this.path)) return { term: 0, voted_for: '' };
    const text = readFileSync(this.path, 'utf8');
    const parsed = JSON.parse(text) as Partial<TermRecord>;
    if (typeof parsed.term !== 'number' || !Number.isInteger(parsed.term) || parsed.term < 0 || typeof parsed.voted_for !== 'string') {
      throw new MqError('INTERNAL', `${this.path} does not hold a term record (${text.slice(0, 80)}); restore it, or remove the data directory to rejoin as a new node`);
    }
    return { term: parsed.term, voted_for: parsed.voted_for };
  }

  save(record: TermRecord): void {
    const temporary = `${this.path}.tmp`;
    writeFileSynced(temporary, Buffer.from(JSON.stringify(record)));
    renameSync(temporary, this.path);
    fsyncDirectory(this.dir);
  }
}

/** For a nameserver without peers, and for tests: terms kept in memory. */
export class MemoryTermStore implements TermStore {
  private record: TermRecord = { term: 0, voted_for: '' };
  load(): TermRecord {
    return { ...this.record };
  }
  save(record: TermRecord): void {
    this.record = { ...record };
  }
}
