import t from 'tap';
import { recovery_limits, zeroStaleTail } from '../../src/storage/commit_log_recovery.js';

/**
 * The stale tail after a cut (commit_log.test.ts covers the cut itself, with real segments):
 * what lies past the cut is zeroed up to a run of `stale_tail_zero_run_bytes` zeros.
 */

const { stale_tail_zero_run_bytes: run_bytes, stale_tail_chunk_bytes: chunk_bytes } = recovery_limits;

function nonZeroOffsets(buffer: Buffer): number[] {
  const found: number[] = [];
  for (let at = buffer.indexOf(0xff); at !== -1 && found.length < 100; at = buffer.indexOf(0xff, at + 1)) found.push(at);
  return found;
}

t.test('stale bytes past the cut are zeroed, through zero gaps shorter than the run; bytes before the cut are kept', async (t) => {
  const cut = 3 * chunk_bytes + 100; // not on a chunk boundary
  const buffer = Buffer.alloc(cut + 2 * run_bytes + 8 * chunk_bytes);
  buffer.fill(0xff, 0, cut); // the records before the cut
  const torn_record = cut + 7;
  const island = cut + run_bytes - 2 * chunk_bytes; // a page that survived out of order, inside the run
  const far_beyond = island + 1 + run_bytes + chunk_bytes; // past a full run of zeros after the island
  for (const at of [torn_record, torn_record + 1, island, far_beyond]) buffer[at] = 0xff;
  zeroStaleTail(buffer, cut);
  t.equal(buffer.subarray(0, cut).every((byte) => byte === 0xff), true, 'everything before the cut is untouched');
  t.same(nonZeroOffsets(buffer.subarray(cut)).map((at) => at + cut), [far_beyond], 'the torn record and the island are zeroed; past a whole run of zeros the scan stopped');
});

t.test('a stale tail up to the very end of the segment is zeroed', async (t) => {
  const buffer = Buffer.alloc(4 * chunk_bytes + 10, 0xff);
  const cut = chunk_bytes - 1;
  zeroStaleTail(buffer, cut);
  t.equal(buffer.subarray(0, cut).every((byte) => byte === 0xff), true, 'everything before the cut is kept');
  t.equal(buffer.subarray(cut).every((byte) => byte === 0), true, 'everything from the cut to the end is zero');
});
