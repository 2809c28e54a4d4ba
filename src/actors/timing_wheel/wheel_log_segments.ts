import { assert } from '../../runtime/assert.js';

/**
 * Which wheel-log segments still hold undelivered entries, so that a segment is deleted as
 * soon as its last entry is delivered. The log's entries follow the schedule queue, which
 * follows the CommitLog: CommitLog offsets grow with the entry index, so the segment of a
 * delivered entry is found from its CommitLog offset (the last segment whose first entry's
 * offset is not above it) without keeping an index per entry.
 *
 * Owned by the timing wheel actor.
 */
export class WheelLogSegments {
  /** Segment first indices, ascending, with the CommitLog offset of each one's first entry. */
  private readonly starts: number[] = [];
  private readonly first_offsets: number[] = [];
  private readonly pending: number[] = [];

  get count(): number {
    return this.starts.length;
  }

  /** An entry of segment `start` at CommitLog offset `offset` exists (call in log order). */
  note(start: number, offset: number): void {
    const last = this.starts.length - 1;
    if (last >= 0 && this.starts[last] === start) return;
    assert(last < 0 || (this.starts[last] as number) < start, `wheel log segments noted out of order: ${start} after ${this.starts[last]}`);
    this.starts.push(start);
    this.first_offsets.push(offset);
    this.pending.push(0);
  }

  /** An entry at `offset` waits for delivery. */
  add(offset: number): void {
    const at = this.find(offset);
    this.pending[at] = (this.pending[at] as number) + 1;
  }

  /** The entry at `offset` was delivered; answers its segment's start when none is left. */
  remove(offset: number): number | undefined {
    const at = this.find(offset);
    assert((this.pending[at] as number) > 0, `wheel log segment ${this.starts[at]} has no pending entry to remove`);
    this.pending[at] = (this.pending[at] as number) - 1;
    if (this.pending[at] !== 0) return undefined;
    const start = this.starts[at] as number;
    return start;
  }

  /** Segments with nothing left to deliver. */
  empty(): number[] {
    return this.starts.filter((_, at) => this.pending[at] === 0);
  }

  forget(start: number): void {
    const at = this.starts.indexOf(start);
    if (at < 0) return;
    this.starts.splice(at, 1);
    this.first_offsets.splice(at, 1);
    this.pending.splice(at, 1);
  }

  private find(offset: number): number {
    let low = 0;
    let high = this.first_offsets.length - 1;
    assert(high >= 0 && offset >= (this.first_offsets[0] as number), `CommitLog offset ${offset} is before every wheel log segment`);
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.first_offsets[middle] as number) <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
