import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createTopicEverywhere, RawSender, startStandalone, testBody, until } from './fixtures/consumer_cluster.js';
import { collectingLogger, recordingConsumer } from './fixtures/consumer_members.js';
import { Receipts } from './fixtures/consumer_receipts.js';

/**
 * Broadcasting: every member of the group gets every message, and each keeps its own offsets
 * (a local file per member): a restarted member resumes from its own file.
 */

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-broadcast-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('two broadcasting members each get everything; a restarted member resumes from its own offsets', async (t) => {
  const cluster = await startStandalone(t);
  const broker_name = [...cluster.brokers.keys()][0] as string;
  await createTopicEverywhere(cluster, 'News', 4);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  const offset_dir = tempDir(t);
  const options = (label: string) => ({
    namesrv: cluster.namesrv, group: 'news', subscriptions: [{ topic: 'News' }], mode: 'broadcasting' as const, fromWhere: 'first' as const,
    instanceName: `broadcast-${label}`, rebalanceIntervalMs: 200, offsetDir: offset_dir, logger: collectingLogger(),
  });
  const receipts = { a: new Receipts(sender.sent), b: new Receipts(sender.sent) };
  const a = recordingConsumer(t, 'a', options('a'), receipts.a);
  const b = recordingConsumer(t, 'b', options('b'), receipts.b);
  await a.start();
  await b.start();
  t.equal(a.assignedQueues().length, 4, 'a member owns every queue');
  t.equal(b.assignedQueues().length, 4, 'so does the other');

  const send = async (from: number, count: number): Promise<void> => {
    for (let queue = 0; queue < 4; queue++) await sender.sendBatch('News', broker_name, queue, Array.from({ length: count }, (_, index) => testBody(`q${queue}`, from + index)));
  };
  await send(0, 250);
  await until(() => receipts.a.distinct >= 1_000 && receipts.b.distinct >= 1_000, 30_000, () => `both members to get 1000 (a ${receipts.a.distinct}, b ${receipts.b.distinct})`);
  for (const [label, member] of Object.entries(receipts)) {
    const report = member.report();
    t.same(report.missing, [], `${label}: got everything`);
    t.equal(report.duplicates, 0, `${label}: once each`);
    t.same(report.body_mismatches, [], `${label}: bodies equal`);
    t.same(report.order_violations, [], `${label}: in order`);
  }

  await b.shutdown();
  const file = JSON.parse(readFileSync(path.join(offset_dir, 'news', 'broadcast-b.json'), 'utf8')) as { offsets: Record<string, number> };
  t.same(Object.values(file.offsets), [250, 250, 250, 250], "b's own offset file holds its positions");
  await send(250, 50);
  await until(() => receipts.a.distinct >= 1_200, 30_000, () => `a to get the next 200 (${receipts.a.distinct})`);

  const restarted = new Receipts(sender.sent);
  const b_again = recordingConsumer(t, 'b2', options('b'), restarted);
  await b_again.start();
  await until(() => restarted.distinct >= 200, 30_000, () => `the restarted b to get what it missed (${restarted.distinct})`);
  // Each queue is pulled in order from where it starts, so the first 200 deliveries show it.
  const lowest = [...restarted.offsetsBy('b2').values()].map((offsets) => Math.min(...offsets));
  t.same(lowest, [250, 250, 250, 250], 'the restarted member resumed from its file: nothing below offset 250 again');
  t.equal(restarted.report().duplicates, 0);

  const second = recordingConsumer(t, 'x', options('b'), new Receipts(sender.sent));
  await t.rejects(second.start(), { code: 'BAD_REQUEST' }, 'a second member with the same instanceName in one process is refused');
  await a.shutdown();
  await b_again.shutdown();
});
