import t from 'tap';
import { MqError } from '../../../../src/runtime/errors.js';
import { offsetsOf, popSetup, settle } from './pop_helpers.js';

/** The pop engine against a fake broker: dead letters, FIFO, long polling, bounds. */

t.test('max attempts: the dead letters get it, it counts as acked and is never delivered again', async (t) => {
  const { broker, clock, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T', { max_attempts: 3 });
  broker.append('T', 2, { queue_id: 0 });
  const attempts: number[] = [];
  let last_handle = '';
  for (let round = 0; round < 3; round++) {
    const batch = await receive({ invisible_ms: 1_000 });
    attempts.push(...batch.filter((received) => received.message.queueOffset === 0).map((received) => received.delivery_attempt));
    for (const received of batch) {
      if (received.message.queueOffset === 1) engine.ack('G', 'T', received.receipt_handle);
      else last_handle = received.receipt_handle;
    }
    clock.advance(1_100);
  }
  t.same(attempts, [1, 2, 3], 'delivered three times');
  t.same(await receive(), [], 'not a fourth time');
  await settle();
  t.equal(broker.dead_letters.length, 1, 'one dead letter');
  t.match(broker.dead_letters[0], { group: 'G', message: { topic: 'T', queue_id: 0, queue_offset: 0, commit_log_offset: 0, msg_id: 'MSG00000000' } });
  t.equal(engine.ack('G', 'T', last_handle).status, 'invalid_receipt_handle', 'its last handle is stale');
  t.equal(broker.committedOf('G', 'T', 0), 2, 'counted as acked: committed past it');
  clock.advance(60_000);
  t.same(await receive(), [], 'never back');
  t.equal(engine.inspect()['in_flight'], 0);
});

t.test('a receive may ask for its own max attempts; a dead letter that fails is tried again', async (t) => {
  const { broker, clock, engine, receive } = popSetup({ queues: 1, limits: { dead_letter_retry_ms: 5_000 } });
  await engine.register('G', 'T');
  broker.append('T', 1, { queue_id: 0 });
  await receive({ invisible_ms: 1_000, max_attempts: 1 });
  broker.dead_letter_error = new MqError('NOT_MASTER', 'a slave now');
  clock.advance(1_100);
  t.same(await receive(), [], 'used up: not delivered');
  await settle();
  t.equal(broker.dead_letters.length, 0, 'the copy failed');
  t.equal(engine.inspect()['in_flight'], 1, 'still in flight');
  broker.dead_letter_error = undefined;
  clock.advance(4_000);
  t.same(await receive(), [], 'not tried again before dead_letter_retry_ms');
  await settle();
  t.equal(broker.dead_letters.length, 0);
  clock.advance(1_100);
  t.same(await receive(), [], 'tried again, not delivered');
  await settle();
  t.equal(broker.dead_letters.length, 1, 'stored the second time');
  t.equal(broker.committedOf('G', 'T', 0), 1);
});

t.test('forwardToDeadLetter: on request, acked; a failed forward keeps the handle for the retry', async (t) => {
  const { broker, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  broker.append('T', 2, { queue_id: 0 });
  const [first, second] = await receive();
  t.same(await engine.forwardToDeadLetter('G', 'T', first?.receipt_handle as string), { status: 'ok' });
  t.equal(broker.dead_letters.length, 1);
  t.equal(engine.ack('G', 'T', first?.receipt_handle as string).status, 'invalid_receipt_handle', 'forwarded: acked');
  broker.dead_letter_error = new MqError('BROKER_UNAVAILABLE', 'disk full');
  await t.rejects(engine.forwardToDeadLetter('G', 'T', second?.receipt_handle as string), { code: 'BROKER_UNAVAILABLE' });
  broker.dead_letter_error = undefined;
  t.same(await engine.forwardToDeadLetter('G', 'T', second?.receipt_handle as string), { status: 'ok' }, 'the client retries with the same handle');
  t.equal(broker.dead_letters.length, 2);
  await settle(1);
  t.equal(broker.committedOf('G', 'T', 0), 2);
});

t.test('FIFO: a queue is not read while a message of it is in flight', async (t) => {
  const { broker, clock, engine, receive } = popSetup({ queues: 2 });
  await engine.register('G', 'T', { fifo: true });
  broker.append('T', 3, { queue_id: 0 });
  broker.append('T', 2, { queue_id: 1 });
  const first = await receive({ invisible_ms: 5_000 });
  t.same(offsetsOf(first).sort(), ['0:0', '1:0'], 'one message per queue');
  t.same(await receive(), [], 'nothing more while they are in flight');
  engine.ack('G', 'T', first.find((received) => received.message.queueId === 0)?.receipt_handle as string);
  t.same(offsetsOf(await receive({ invisible_ms: 5_000 })), ['0:1'], 'acked: the next of queue 0, nothing of queue 1');
  clock.advance(5_100);
  const again = await receive({ invisible_ms: 5_000 });
  t.same(offsetsOf(again).sort(), ['0:1', '1:0'], 'not acked in time: the same messages again, not the next ones');
  t.ok(again.every((received) => received.delivery_attempt === 2));
  for (const received of again) engine.ack('G', 'T', received.receipt_handle);
  t.same(offsetsOf(await receive()).sort(), ['0:2', '1:1'], 'then the next ones');
});

t.test('long poll: answered when a message arrives, or empty when its time runs out', async (t) => {
  const { broker, clock, engine, receive } = popSetup({ queues: 2 });
  await engine.register('G', 'T');
  const waiting = receive({ long_poll_ms: 20_000 });
  await settle(1);
  t.equal(broker.held.size, 1, 'held');
  t.equal(broker.held.values().next().value?.hold_ms, 20_000);
  t.equal(broker.wake(), 0, 'a wake with nothing new answers nothing');
  broker.append('T', 1, { queue_id: 1 });
  t.equal(broker.wake(), 1, 'a wake after a message answers');
  t.same(offsetsOf(await waiting), ['1:0']);

  const empty = receive({ long_poll_ms: 60_000 });
  await settle(1);
  t.equal(broker.held.values().next().value?.hold_ms, 30_000, 'capped at 30 s');
  broker.timeOut();
  t.same(await empty, [], 'time ran out: empty');

  const [in_flight] = await receive({ invisible_ms: 2_000 });
  t.equal(in_flight, undefined, 'nothing new');
  broker.append('T', 1, { queue_id: 0 });
  const [received] = await receive({ invisible_ms: 2_000 });
  const redelivery = receive({ long_poll_ms: 20_000 });
  await settle(1);
  t.equal(broker.wake(), 0, 'in flight: nothing to answer');
  clock.advance(2_100);
  t.equal(broker.wake(), 1, 'its invisible time ran out: answered');
  const [back] = await redelivery;
  t.equal(back?.message.msgId, received?.message.msgId);
  t.equal(back?.delivery_attempt, 2);

  broker.hold_full = true;
  await t.rejects(receive({ long_poll_ms: 20_000 }), { code: 'BUSY' }, 'the broker\'s hold is full: BUSY at once, so the client backs off');
  broker.hold_full = false;
  const gone = receive({ long_poll_ms: 20_000, holder: { owner: {}, client: { key: 'k', limits: { connections_max: 1, requests_in_flight_max: 1, held_pulls_max: 1, request_bytes_max: 1 } }, open: () => false } });
  await settle(1);
  broker.append('T', 1, { queue_id: 0 });
  broker.wake();
  t.same(await gone, [], 'a closed caller gets nothing read for it');
  t.same(offsetsOf(await receive()), ['0:1'], 'so the message is there for the next receive');
});

t.test('bounds: batch size capped, in flight and tracked answer BUSY, subscriptions and wheel bounded', async (t) => {
  {
    const { broker, engine, receive } = popSetup({ queues: 1 });
    await engine.register('G', 'T');
    broker.append('T', 100, { queue_id: 0 });
    t.equal((await receive({ batch_size: 1_000 })).length, 32, 'batch size capped at 32');
    await t.rejects(receive({ batch_size: 0 }), { code: 'BAD_REQUEST' }, 'batch size 0 is refused');
    await t.rejects(receive({ invisible_ms: Number.NaN }), { code: 'BAD_REQUEST' });
  }
  {
    const { broker, engine, receive } = popSetup({ queues: 1, limits: { in_flight_per_subscription_max: 5, tracked_per_subscription_max: 8 } });
    await engine.register('G', 'T');
    broker.append('T', 20, { queue_id: 0 });
    const batch = await receive();
    t.equal(batch.length, 5, 'up to the in-flight bound');
    await t.rejects(receive(), { code: 'BUSY', message: /5 messages of topic T received and not acked/ }, 'then BUSY');
    for (const received of batch.slice(1)) engine.ack('G', 'T', received.receipt_handle);
    const more = await receive();
    t.equal(more.length, 3, 'acks above an unacked message free in-flight places, but the tracked bound (8) holds');
    await t.rejects(receive(), { code: 'BUSY', message: /above older ones it has not acked/ });
    engine.ack('G', 'T', batch[0]?.receipt_handle as string);
    t.ok((await receive()).length > 0, 'the oldest acked: reading again');
  }
  {
    const { engine } = popSetup({ queues: 1, limits: { subscriptions_max: 2, subscription_idle_ms: 60_000 } });
    await engine.register('G1', 'T');
    await engine.register('G2', 'T');
    await t.rejects(engine.register('G3', 'T'), { code: 'BUSY' }, 'no idle pair to forget');
    await engine.register('G1', 'T');
    t.pass('a known pair registers again');
  }
  {
    const { clock, engine } = popSetup({ queues: 1, limits: { subscriptions_max: 2, subscription_idle_ms: 60_000 } });
    await engine.register('G1', 'T');
    await engine.register('G2', 'T');
    clock.advance(60_000);
    await engine.register('G3', 'T');
    t.equal(engine.inspect()['subscriptions'], 1, 'idle pairs forgotten');
  }
  {
    const { broker, engine, receive } = popSetup({ queues: 1, limits: { in_flight_total_max: 4, wheel_entries_max: 12 } });
    await engine.register('G', 'T');
    broker.append('T', 10, { queue_id: 0 });
    const batch = await receive();
    t.equal(batch.length, 4, 'the broker-wide in-flight bound');
    await t.rejects(receive(), { code: 'BUSY', message: /popped messages in flight/ });
    const handles = batch.map((received) => received.receipt_handle);
    for (let index = 0; index < 4; index++) {
      const changed = engine.changeInvisibleDuration('G', 'T', handles[index] as string, 60_000);
      t.equal(changed.status, 'ok');
      if (changed.status === 'ok') handles[index] = changed.receipt_handle;
    }
    t.throws(() => engine.changeInvisibleDuration('G', 'T', handles[0] as string, 60_000), { code: 'BUSY', message: /invisibility deadlines/ }, 'stale deadlines fill the clients\' part of the wheel');
  }
});

t.test('close: held receives answer empty, later calls are refused', async (t) => {
  const { broker, engine, receive } = popSetup({ queues: 1 });
  await engine.register('G', 'T');
  const held = receive({ long_poll_ms: 10_000 });
  await settle(1);
  engine.close();
  broker.append('T', 1, { queue_id: 0 });
  broker.timeOut();
  t.same(await held, []);
  await t.rejects(receive(), { code: 'SHUTTING_DOWN' });
  t.throws(() => engine.ack('G', 'T', 'x'), { code: 'SHUTTING_DOWN' });
});
