import type { NsLogEntry } from '../../protocol/index.js';
import { assert } from '../../runtime/assert.js';

/**
 * The newest registry log entries, in memory: what an upstream serves to followers that
 * fetch from a sequence number. Older entries are dropped past `entries_max`; a follower
 * that needs one of those gets a snapshot instead.
 *
 *   base_seq (base_term)   entries[0] = base_seq + 1   ...   entries[n-1] = last_seq
 *
 * `base` is the position everything before the window collapsed into: the snapshot the
 * registry was restored from, or the last entry dropped. Owned by the registry actor.
 */
export class RegistryLog {
  private entries: NsLogEntry[] = [];
  private base_seq = 0;
  private base_term = 0;
  /** Index of the first live entry: dropping from the front moves it instead of shifting. */
  private head = 0;

  constructor(private readonly entries_max: number) {}

  get lastSeq(): number {
    return this.base_seq + this.entries.length - this.head;
  }

  get lastTerm(): number {
    return this.entries.length > this.head ? (this.entries[this.entries.length - 1] as NsLogEntry).term : this.base_term;
  }

  /** Forgets everything: the log continues after (`seq`, `term`) (a snapshot was installed). */
  reset(seq: number, term: number): void {
    this.entries = [];
    this.head = 0;
    this.base_seq = seq;
    this.base_term = term;
  }

  append(entry: NsLogEntry): void {
    assert(entry.seq === this.lastSeq + 1, `registry log: entry ${entry.seq} does not follow ${this.lastSeq}`);
    assert(entry.term >= this.lastTerm, `registry log: entry ${entry.seq} of term ${entry.term} after term ${this.lastTerm}`);
    this.entries.push(entry);
    if (this.entries.length - this.head > this.entries_max) this.dropOldest();
  }

  /** The term of the entry at `seq`, or undefined when the window no longer holds it. */
  termAt(seq: number): number | undefined {
    if (seq === this.base_seq) return this.base_term;
    if (seq < this.base_seq || seq > this.lastSeq) return undefined;
    return (this.entries[this.head + seq - this.base_seq - 1] as NsLogEntry).term;
  }

  /** Entries from `from_seq` on, at most `bytes_max` of commands (at least one if any). */
  from(from_seq: number, bytes_max: number): NsLogEntry[] {
    assert(from_seq > this.base_seq, `registry log: ${from_seq} is before the window`);
    const out: NsLogEntry[] = [];
    let bytes = 0;
    for (let index = this.head + from_seq - this.base_seq - 1; index < this.entries.length; index++) {
      const entry = this.entries[index] as NsLogEntry;
      if (out.length > 0 && bytes + entry.command.length > bytes_max) break;
      out.push(entry);
      bytes += entry.command.length;
    }
    return out;
  }

  private dropOldest(): void {
    const dropped = this.entries[this.head] as NsLogEntry;
    this.base_seq = dropped.seq;
    this.base_term = dropped.term;
    this.head++;
    // Compact once the dropped prefix is as long as the live part: amortised O(1) per entry.
    if (this.head >= this.entries_max) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
