import t from 'tap';
import { PopEngine } from '../../../../src/server/grpc/pop/pop_engine.js';
import { test_holder } from './fake_pop_broker.js';
import { offsetsOf, popSetup, settle, silent_log } from './pop_helpers.js';

/** The pop engine against a fake broker: delivery, invisibility, handles, committed offsets. */

t.test('1,000 messages over 4 queues: each received once, in order per queue, all committed', async (t) => {
  const { broker, engine, receive } = popSetup();
  await engine.register('G', 'T');
  broker.append('T', 1_000);
  const seen = new Set<string>();
  const last_offset = [-1, -1, -1, -1];
  let in_order = true;
  let first_batch_queues = 0;
  for (let round = 0; round < 100; round++) {
    const batch = await receive();
    if (batch.length === 0) break;
    if (round === 0) first_batch_queues = new Set(batch.map((received) => received.message.queueId)).size;
    for (const received of batch) {
      const { queueId, queueOffset, msgId } = received.message;
      if (seen.has(msgId) || received.delivery_attempt !== 1) in_order = false;
      seen.add(msgId);
      if (queueOffset !== (last_offset[queueId] as number) + 1) in_order = false;
      last_offset[queueId] = queueOffset;
      t.equal(engine.ack('G', 'T', received.receipt_handle).status, 'ok');
    }
  }
  t.equal(seen.size, 1_000, 'every message received');
  t.ok(in_order, 'once each, first attempt, queue offsets consecutive per queue');
  t.equal(first_batch_queues, 4, 'one batch spreads over the four queues');
  t.same(await receive(), [], 'nothing left');
  await settle();
  t.same([0, 1, 2, 3].map((queue_id) => broker.committedOf('G', 'T', queue_id)), [250, 250, 250, 250], 'committed offsets at the ends');
  t.equal(engine.inspect()['in_flight'], 0);
  t.equal(engine.inspect()['tracked'], 0, 'nothing kept above the committed offsets');
});

t.test('not acked: back after its invisible time with attempt 2 and a new handle; the old one is stale', async (t) => {
  const { broker, clock, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  broker.append('T', 1);
  const [first] = await receive({ invisible_ms: 10_000 });
  t.equal(first?.delivery_attempt, 1);
  clock.advance(9_900);
  t.same(await receive(), [], 'invisible before its deadline');
  clock.advance(200);
  const [second] = await receive();
  t.equal(second?.message.msgId, first?.message.msgId, 'the same message');
  t.equal(second?.delivery_attempt, 2);
  t.not(second?.receipt_handle, first?.receipt_handle, 'a new handle');
  t.match(engine.ack('G', 'T', first?.receipt_handle as string), { status: 'invalid_receipt_handle', reason: /stale/ }, 'the first handle is stale');
  t.equal(engine.ack('G', 'T', second?.receipt_handle as string).status, 'ok');
  t.equal(engine.ack('G', 'T', second?.receipt_handle as string).status, 'invalid_receipt_handle', 'a second ack of it is refused');
  clock.advance(60_000);
  t.same(await receive(), [], 'acked: never back');
});

t.test('an ack after the deadline but before the redelivery still counts', async (t) => {
  const { broker, clock, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  broker.append('T', 1);
  const [first] = await receive({ invisible_ms: 5_000 });
  clock.advance(6_000);
  t.equal(engine.ack('G', 'T', first?.receipt_handle as string).status, 'ok');
  t.same(await receive(), [], 'not delivered again');
});

t.test('changeInvisibleDuration: a later deadline under a new handle; 0 makes it visible now', async (t) => {
  const { broker, clock, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  broker.append('T', 2, { queue_id: 0 });
  const [first, other] = await receive({ invisible_ms: 10_000, batch_size: 2 });
  clock.advance(5_000);
  const changed = engine.changeInvisibleDuration('G', 'T', first?.receipt_handle as string, 20_000);
  if (changed.status !== 'ok') throw new Error(changed.reason);
  t.not(changed.receipt_handle, first?.receipt_handle, 'a new handle');
  t.equal(engine.changeInvisibleDuration('G', 'T', first?.receipt_handle as string, 20_000).status, 'invalid_receipt_handle', 'the old handle is stale');
  t.equal(engine.ack('G', 'T', first?.receipt_handle as string).status, 'invalid_receipt_handle');
  clock.advance(10_000);
  const back = await receive();
  t.same(offsetsOf(back), ['0:1'], 'past the first deadline only the other message is back');
  engine.ack('G', 'T', back[0]?.receipt_handle as string);
  clock.advance(9_900);
  t.same(await receive(), [], 'not before the new deadline');
  clock.advance(300);
  const [again] = await receive();
  t.equal(again?.message.queueOffset, 0, 'back after the new deadline');
  t.equal(again?.delivery_attempt, 2, 'a change is not a delivery: attempt 2');
  t.equal(engine.ack('G', 'T', changed.receipt_handle).status, 'invalid_receipt_handle', 'redelivered: the changed handle is stale too');
  const now = engine.changeInvisibleDuration('G', 'T', again?.receipt_handle as string, 0);
  if (now.status !== 'ok') throw new Error(now.reason);
  t.equal(now.invisible_ms, 0);
  const [at_once] = await receive();
  t.equal(at_once?.message.queueOffset, 0, 'invisible 0: delivered again at the next receive, no time passing');
  t.equal(at_once?.delivery_attempt, 3);
  const tiny = engine.changeInvisibleDuration('G', 'T', at_once?.receipt_handle as string, 1);
  t.equal(tiny.status === 'ok' && tiny.invisible_ms, 1, '1 ms (a PushConsumer nack of 1 s sent as ms) is taken as is');
  t.ok(other, 'two received');
});

t.test('malformed, forged, foreign and stale handles are INVALID_RECEIPT_HANDLE', async (t) => {
  const { broker, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  await engine.register('H', 'T');
  broker.createTopic('U', 1);
  await engine.register('G', 'U');
  broker.append('T', 1);
  const [received] = await receive();
  const handle = received?.receipt_handle as string;
  const forged = handle.slice(0, 10) + (handle[10] === 'A' ? 'B' : 'A') + handle.slice(11);
  const stranger = new PopEngine(broker, { receipt_key: Buffer.alloc(32, 9), log: silent_log });
  await stranger.register('G', 'T');
  broker.append('T', 1);
  const [foreign] = await stranger.receive({ group: 'G', topic: 'T', filter: '*', batch_size: 1, long_poll_ms: 0, holder: test_holder });
  const cases: Array<[string, string, string, string]> = [
    ['empty', 'G', 'T', ''],
    ['garbage', 'G', 'T', 'not a handle!'],
    ['too long', 'G', 'T', 'A'.repeat(5_000)],
    ['truncated', 'G', 'T', handle.slice(0, -3)],
    ['one character changed', 'G', 'T', forged],
    ['another group', 'H', 'T', handle],
    ['another topic', 'G', 'U', handle],
    ['another broker process (another key)', 'G', 'T', foreign?.receipt_handle as string],
  ];
  for (const [what, group, topic, text] of cases) {
    t.equal(engine.ack(group, topic, text).status, 'invalid_receipt_handle', `ack: ${what}`);
    t.equal(engine.changeInvisibleDuration(group, topic, text, 1_000).status, 'invalid_receipt_handle', `change: ${what}`);
    t.equal((await engine.forwardToDeadLetter(group, topic, text)).status, 'invalid_receipt_handle', `forward: ${what}`);
  }
  t.equal(engine.ack('G', 'T', handle).status, 'ok', 'the real handle still acks');
  t.equal(engine.ack('G', 'T', handle).status, 'invalid_receipt_handle', 'then it is stale');
  t.equal(broker.dead_letters.length, 0, 'no refused forward reached the dead letters');
});

t.test('the committed offset moves only over contiguous acks', async (t) => {
  const { broker, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  broker.append('T', 10, { queue_id: 0 });
  const batch = await receive({ batch_size: 10 });
  t.same(batch.map((received) => received.message.queueOffset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const ack = (offset: number): void => {
    t.equal(engine.ack('G', 'T', batch[offset]?.receipt_handle as string).status, 'ok', `ack ${offset}`);
  };
  const committed = async (): Promise<number> => {
    await settle(1);
    return broker.committedOf('G', 'T', 0);
  };
  for (const offset of [9, 8, 7, 6, 5]) ack(offset);
  t.equal(await committed(), 0, 'acks above an unacked message do not move it');
  for (const offset of [1, 2, 3]) ack(offset);
  t.equal(await committed(), 0, 'still held by offset 0');
  ack(0);
  t.equal(await committed(), 4, 'moves to the lowest unacked: 4');
  t.equal(engine.inspect()['tracked'], 6, '4 and the five acked above it are kept');
  ack(4);
  t.equal(await committed(), 10, 'all acked: the end');
  t.equal(engine.inspect()['tracked'], 0);
  const offsets = broker.commits.filter((commit) => commit.group === 'G').map((commit) => commit.offset);
  t.same(offsets, [...offsets].sort((a, b) => a - b), 'commits never go back');
  t.ok(offsets.length <= 4, `one commit per move of the offset (${offsets.join(', ')})`);
});

t.test('a dropped commit is sent again at the next flush', async (t) => {
  const { broker, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  broker.append('T', 2, { queue_id: 0 });
  const batch = await receive();
  broker.drop_commits = true;
  engine.ack('G', 'T', batch[0]?.receipt_handle as string);
  await settle(1);
  t.equal(broker.committedOf('G', 'T', 0), 0, 'dropped');
  broker.drop_commits = false;
  engine.flushCommits();
  t.equal(broker.committedOf('G', 'T', 0), 1, 'sent again');
});

t.test('register: a new group starts at the end, an existing one at its committed offset, a grown topic from 0', async (t) => {
  const { broker, engine, receive } = popSetup({ queues: 2 });
  broker.append('T', 10);
  await engine.register('G', 'T');
  await settle(1);
  t.same([broker.committedOf('G', 'T', 0), broker.committedOf('G', 'T', 1)], [5, 5], 'the start is committed at once (a restart resumes there)');
  t.same(await receive(), [], 'messages stored before the group existed are not delivered');
  broker.append('T', 2);
  t.same(offsetsOf(await receive()).sort(), ['0:5', '1:5'], 'messages after it are');
  broker.commitOffset('K', 'T', 0, 3);
  broker.commitOffset('K', 'T', 1, 6);
  const k = await engine.receive({ group: 'K', topic: 'T', filter: '*', batch_size: 32, long_poll_ms: 0, holder: test_holder });
  t.same(offsetsOf(k).sort(), ['0:3', '0:4', '0:5'], 'a group with committed offsets (a PULL consumer, a restart) resumes there; the first receive registers');
  broker.createTopic('T', 3);
  broker.append('T', 1, { queue_id: 2 });
  t.same(offsetsOf(await receive()), ['2:0'], 'a queue the topic gained later is read from its start');
  await t.rejects(engine.register('G', 'nope'), { code: 'TOPIC_NOT_FOUND' });
  await t.rejects(engine.register('bad group!', 'T'), { code: 'BAD_REQUEST' });
  t.equal(engine.inspect()['subscriptions'], 2, 'failed registrations keep nothing');
});

t.test('a tag filter delivers matching messages; the skipped ones count as acked', async (t) => {
  const { broker, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  for (let index = 0; index < 10; index++) broker.append('T', 1, { queue_id: 0, tag: index % 3 === 0 ? 'b' : 'a' });
  const batch = await receive({ filter: 'b' });
  t.same(batch.map((received) => received.message.queueOffset), [0, 3, 6, 9]);
  for (const received of batch) engine.ack('G', 'T', received.receipt_handle);
  await settle(1);
  t.equal(broker.committedOf('G', 'T', 0), 10, 'committed past the skipped messages');
  await t.rejects(receive({ filter: 'a|b' }), { code: 'BAD_REQUEST' }, 'a bad expression is BAD_REQUEST');
});

t.test('round robin: a busy queue does not starve the others', async (t) => {
  const { broker, engine, receive } = popSetup({ queues: 4 });
  await engine.register('G', 'T');
  broker.append('T', 1_000, { queue_id: 0 });
  for (const queue_id of [1, 2, 3]) broker.append('T', 1, { queue_id });
  const batch = await receive({ batch_size: 32 });
  t.equal(batch.length, 32, 'a full batch');
  t.same(new Set(batch.map((received) => received.message.queueId)), new Set([0, 1, 2, 3]), 'every queue with a message is in the first batch');
});

t.test('a message to deliver again that retention deleted is dropped and counts as acked', async (t) => {
  const { broker, clock, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  broker.append('T', 3, { queue_id: 0 });
  const batch = await receive({ invisible_ms: 1_000 });
  engine.ack('G', 'T', batch[1]?.receipt_handle as string);
  engine.ack('G', 'T', batch[2]?.receipt_handle as string);
  broker.min_offset = 1;
  clock.advance(1_100);
  t.same(await receive(), [], 'gone: nothing delivered');
  await settle(1);
  t.equal(broker.committedOf('G', 'T', 0), 3);
  t.equal(engine.inspect()['in_flight'], 0);
});
