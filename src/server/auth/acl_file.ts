import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../runtime/log.js';
import { Acl } from './acl.js';

export const acl_file_limits = {
  /** How often the file's modification time and size are looked at. */
  watch_interval_ms: 1_000,
  /** A larger file is refused (10,000 accounts fit well within). */
  file_bytes_max: 64 << 20,
} as const;

/**
 * The ACL file of a node: loaded at start (a missing or bad file stops the start, with the
 * reason), looked at every second and reloaded when it changed — a bad edit is logged and the
 * ACL in force stays — and written whole (temporary file, fsync, rename) by admin edits.
 * Owned by the thread that opened it: the node's main thread, and the replicator's worker
 * thread, which opens its own to check slaves (actors/replicator/ha_access.ts).
 */
export class AclFile {
  private in_force: Acl;
  private timer: NodeJS.Timeout | undefined;
  private seen: string;

  private constructor(
    readonly file_path: string,
    private readonly log: Logger,
    acl: Acl,
  ) {
    this.in_force = acl;
    this.seen = statKey(file_path);
  }

  /** Loads the file; throws an Error saying what is wrong with it. */
  static open(file_path: string, log: Logger): AclFile {
    return new AclFile(file_path, log, readAcl(file_path));
  }

  /**
   * Loads the file, or — when it is missing or bad — starts with an empty ACL, which refuses
   * every account, and logs why; the watch takes the file once it reads again. For a part
   * that starts after the node did (its check of the file at start is what stops a bad
   * start), so that a bad edit at that moment costs refusals, not the part.
   */
  static openRefusingAll(file_path: string, log: Logger): AclFile {
    try {
      return AclFile.open(file_path, log);
    } catch (error) {
      log.error({ file: file_path, reason: error instanceof Error ? error.message : String(error) }, 'ACL file unreadable: every account is refused until it reads again');
      return new AclFile(file_path, log, Acl.empty());
    }
  }

  get acl(): Acl {
    return this.in_force;
  }

  /** The ACL after reading the file again if it changed (what an edit must build on). */
  current(): Acl {
    this.reloadIfChanged();
    return this.in_force;
  }

  /** Reloads on change from now on. */
  watch(): void {
    this.timer ??= setInterval(() => this.reloadIfChanged(), acl_file_limits.watch_interval_ms);
    this.timer.unref();
  }

  /** Reads the file again if its size or modification time changed; true when the ACL changed. */
  reloadIfChanged(): boolean {
    const key = statKey(this.file_path);
    if (key === this.seen) return false;
    this.seen = key;
    try {
      this.in_force = readAcl(this.file_path);
    } catch (error) {
      this.log.error({ file: this.file_path, reason: error instanceof Error ? error.message : String(error) }, 'ACL file not reloaded: the ACL in force stays');
      return false;
    }
    this.log.info({ file: this.file_path, accounts: this.in_force.list().length }, 'ACL reloaded');
    return true;
  }

  /**
   * Makes `acl` the one in force and writes it whole, durably. Callers build `acl` from
   * `current()`, which reads a changed file first, so a hand edit made just before is kept.
   */
  replace(acl: Acl): void {
    const temporary = `${this.file_path}.tmp-${process.pid}`;
    // A new file of our own (never a leftover or a link planted there), readable by us only.
    fs.rmSync(temporary, { force: true });
    const fd = fs.openSync(temporary, 'wx', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(acl.toJson(), null, 2)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, this.file_path);
    const dir = fs.openSync(path.dirname(this.file_path), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    this.in_force = acl;
    this.seen = statKey(this.file_path);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Reads and parses an ACL file; throws an Error saying what is wrong with it. */
export function readAcl(file_path: string): Acl {
  let text: string;
  try {
    const size = fs.statSync(file_path).size;
    if (size > acl_file_limits.file_bytes_max) throw new Error(`it has ${size} bytes, more than ${acl_file_limits.file_bytes_max}`);
    text = fs.readFileSync(file_path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the ACL file ${file_path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not the parser's message: newer Node quotes the text around the error, secrets included.
    throw new Error(`the ACL file ${file_path} is not valid JSON`);
  }
  try {
    return Acl.parse(value);
  } catch (error) {
    throw new Error(`the ACL file ${file_path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Size and modification time (ns): what changes when the file is written. */
function statKey(file_path: string): string {
  try {
    const stat = fs.statSync(file_path, { bigint: true });
    return `${stat.size}:${stat.mtimeNs}:${stat.ino}`;
  } catch {
    return 'missing';
  }
}
