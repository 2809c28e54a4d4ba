import path from 'node:path';
import t from 'tap';
import {
  abortMarkerPath,
  checkpointPath,
  commitLogDir,
  consumeQueueDir,
  offsetsPath,
  parseSegmentFileName,
  segmentFileName,
} from '../../src/storage/storage_paths.js';

/** Names under the data directory, and segment file names to and from start offsets. */

t.test('where things live', async (t) => {
  const data = path.join('/', 'srv', 'mq');
  t.equal(commitLogDir(data), path.join(data, 'commitlog'));
  t.equal(consumeQueueDir(data, 'Orders%retry|x-1', 7), path.join(data, 'consumequeue', 'Orders%retry|x-1', '7'));
  t.equal(offsetsPath(data), path.join(data, 'config', 'offsets'));
  t.equal(checkpointPath(data), path.join(data, 'checkpoint'));
  t.equal(abortMarkerPath(data), path.join(data, 'abort'));
  for (const topic of ['', '.', '..', 'a/b', '../etc', 'a\\b', 'a\0b']) {
    t.throws(() => consumeQueueDir(data, topic, 0), { name: 'AssertionFailure' }, `topic ${JSON.stringify(topic)} cannot leave its directory`);
  }
  t.throws(() => consumeQueueDir(data, 'T', -1), { name: 'AssertionFailure' });
});

t.test('segment names: 20 digits, back and forth', async (t) => {
  t.equal(segmentFileName(0), '00000000000000000000');
  t.equal(segmentFileName(1_073_741_824), '00000000001073741824');
  t.equal(segmentFileName(Number.MAX_SAFE_INTEGER), '00009007199254740991');
  for (const offset of [0, 1, 20, 1_073_741_824, 300_000 * 20, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
    t.equal(parseSegmentFileName(segmentFileName(offset)), offset, `${offset} round-trips`);
  }
  const offsets = [2 ** 31, 5, 2 ** 30, 0, 1_000_000];
  const by_name = offsets.map(segmentFileName).sort().map((name) => parseSegmentFileName(name));
  t.same(by_name, [...offsets].sort((a, b) => a - b), 'names sort like their offsets');
  for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) t.throws(() => segmentFileName(bad), { name: 'AssertionFailure' }, `offset ${bad}`);
});

t.test('segment names: anything else is not a segment', async (t) => {
  for (const name of ['', '0', '0000000000000000000', '000000000000000000000', '0000000000000000000a', '00000000000000000000.tmp', ' 0000000000000000000', '-0000000000000000001', '+0000000000000000001', '99999999999999999999', '00009007199254740992']) {
    t.equal(parseSegmentFileName(name), undefined, JSON.stringify(name));
  }
});
