import t, { type Test } from 'tap';
import { Admin, Producer, type Message } from '../../src/client/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import * as p from '../../src/protocol/index.js';
import { startNode, type NodeProcess } from '../cli/node_process.js';
import { inParallel, pullAll, until } from '../client/client_helpers.js';
import { pull, pullRequest } from '../server/broker/broker_helpers.js';
import { tempDir } from '../storage/commit_log_helpers.js';

/**
 * The timing wheel under kill -9: 10,000 delayed messages are scheduled on a standalone node
 * with --flush sync, the process is killed while their deliveries are in progress (and, in a
 * second variant, also once before any is due), restarted on the same data directory, and the
 * real topic is then read back by raw PULL of every queue from offset 0 — what is stored,
 * not what an at-least-once consumer saw: every message exactly once, under the id its
 * producer got, none stored before its due time.
 */

const kill_test_limits = {
  messages: 10_000,
  /** Messages per sendBatch call, and calls in flight at once. */
  batch_size: 100,
  batches_in_flight: 4,
  queues: 4,
  /** Deliveries are due from `delay_min_ms` to `delay_min_ms + delay_spread_ms` after each send. */
  delay_spread_ms: 6_000,
  /** Delivered messages seen before the kill "during delivery" (of 10,000). */
  kill_after_delivered: 2_000,
  /** From the sends to the due deliveries, and from a restart to all delivered. */
  progress_timeout_ms: 30_000,
  all_delivered_timeout_ms: 60_000,
  poll_ms: 20,
} as const;

// Run directly (`node dist/test/...`), tap's root test times out after 30 s; the tap runner's
// per-file timeout (.taprc) still applies.
t.setTimeout(180_000);

const topic = 'Scheduled';
const fence_topic = 'Fence';

function nodeArgs(data_dir: string): string[] {
  return [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', data_dir, '--threads', '2', '--log-level', 'warn', '--flush', 'sync',
  ];
}

/** One life of the node on the data directory: the process, and a raw connection for counting. */
interface Life {
  node: NodeProcess;
  namesrv: string;
  broker: string;
  client: ClientConnection;
}

async function startLife(t: Test, data_dir: string): Promise<Life> {
  const node = await startNode(t, nodeArgs(data_dir));
  const broker = node.ready['broker'] as string;
  const client = await ClientConnection.connect(broker, { client_id: 'kill-test-count', kind: 'CLIENT' });
  t.teardown(() => client.close());
  return { node, namesrv: node.ready['namesrv'] as string, broker, client };
}

/** Messages stored in the real topic so far (the sum of its queues' end offsets). */
async function storedCount(life: Life): Promise<number> {
  let total = 0;
  for (let queue = 0; queue < kill_test_limits.queues; queue++) {
    total += (await pull(life.client, pullRequest(topic, queue, 0, { maxCount: 1 }))).maxOffset;
  }
  return total;
}

async function killDuringDelivery(t: Test, life: Life): Promise<void> {
  const seen = await until(`${kill_test_limits.kill_after_delivered} of ${kill_test_limits.messages} delivered (deliveries in progress)`, async () => {
    const count = await storedCount(life);
    return count >= kill_test_limits.kill_after_delivered ? count : undefined;
  }, kill_test_limits.progress_timeout_ms);
  const exit = await life.node.signal('SIGKILL');
  t.equal(exit.signal, 'SIGKILL', `killed -9 with ${seen} of ${kill_test_limits.messages} delivered`);
  t.ok(seen < kill_test_limits.messages, `the kill came while deliveries were in progress (${seen} delivered; all of them means the test did not exercise a kill mid-delivery)`);
}

interface Sent {
  msg_id: string;
  delay_ms: number;
  before_ms: number;
}

async function startProducer(t: Test, namesrv: string): Promise<Producer> {
  const producer = new Producer({ namesrv, sendTimeoutMs: 10_000 });
  t.teardown(() => producer.shutdown());
  await producer.start();
  return producer;
}

/** Creates the topics (retried while the broker is not registered yet), then schedules every message. */
async function scheduleAll(t: Test, life: Life, delay_min_ms: number): Promise<{ sent: Map<string, Sent>; last_due_ms: number }> {
  const admin = new Admin({ namesrv: life.namesrv });
  t.teardown(() => admin.close());
  for (const name of [topic, fence_topic]) await until(`topic ${name} created and routed`, () => admin.createTopic({ topic: name, queues: kill_test_limits.queues }));
  await admin.close();
  const producer = await startProducer(t, life.namesrv);
  const sent = new Map<string, Sent>();
  let last_due_ms = 0;
  let not_ok = 0;
  const batches = Array.from({ length: kill_test_limits.messages / kill_test_limits.batch_size }, (_, batch) => batch);
  await inParallel(batches, kill_test_limits.batches_in_flight, async (batch) => {
    const messages: Message[] = Array.from({ length: kill_test_limits.batch_size }, (_, k) => {
      const index = batch * kill_test_limits.batch_size + k;
      // Spread over the range so that deliveries go on for seconds, in an order unlike the sends'.
      const delay_ms = delay_min_ms + ((index * 7_919) % kill_test_limits.messages) * kill_test_limits.delay_spread_ms / kill_test_limits.messages;
      return { topic, body: bodyOf(index), keys: [keyOf(index)], delayMs: Math.floor(delay_ms) };
    });
    const before_ms = Date.now();
    const results = await producer.sendBatch(messages);
    const after_ms = Date.now();
    results.forEach((result, k) => {
      const message = messages[k] as Message;
      if (result.status !== 'SEND_OK' || result.queueOffset !== -1) not_ok++;
      sent.set((message.keys as string[])[0] as string, { msg_id: result.msgId, delay_ms: message.delayMs as number, before_ms });
      last_due_ms = Math.max(last_due_ms, after_ms + (message.delayMs as number));
    });
  });
  t.equal(not_ok, 0, `all ${kill_test_limits.messages} sends acked SEND_OK and scheduled (queueOffset -1)`);
  t.equal(sent.size, kill_test_limits.messages, 'one id per key');
  await producer.shutdown();
  return { sent, last_due_ms };
}

function keyOf(index: number): string {
  return `key-${index}`;
}

function bodyOf(index: number): string {
  return `scheduled message ${index} `.padEnd(64, '.');
}

/**
 * Waits for all deliveries after the last restart, then a fence: past the last due time, a
 * message with a 200-ms delay goes to another topic; the wheel delivers in due order, so once
 * the fence is stored nothing due earlier (a restored entry, or a duplicate) is still to come.
 */
async function waitAllDelivered(t: Test, life: Life, last_due_ms: number): Promise<void> {
  await until(`the real topic holds ${kill_test_limits.messages} messages after the restart`, async () => {
    const count = await storedCount(life);
    return count >= kill_test_limits.messages ? count : undefined;
  }, kill_test_limits.all_delivered_timeout_ms);
  await until(`the clock passes the last due time ${new Date(last_due_ms).toISOString()}`, () => (Date.now() > last_due_ms ? true : undefined),
    Math.max(0, last_due_ms - Date.now()) + kill_test_limits.progress_timeout_ms);
  const producer = await startProducer(t, life.namesrv);
  await until('a producer sends the fence on the restarted node', () => producer.send({ topic: fence_topic, body: 'fence', keys: ['fence'], delayMs: 200 }));
  await until('the fence is delivered', async () => {
    for (let queue = 0; queue < kill_test_limits.queues; queue++) if ((await pullAll(life.broker, fence_topic, queue)).length > 0) return true;
    return undefined;
  });
  await producer.shutdown();
}

/** Reads every queue of the real topic from offset 0 and checks each record against what was sent. */
async function checkStored(t: Test, life: Life, sent: ReadonlyMap<string, Sent>): Promise<void> {
  const records: p.StoredMessage[] = [];
  for (let queue = 0; queue < kill_test_limits.queues; queue++) records.push(...await pullAll(life.broker, topic, queue));
  t.equal(records.length, kill_test_limits.messages, `exactly ${kill_test_limits.messages} records in the real topic`);

  const per_key = new Map<string, number>();
  const per_origin = new Map<string, number>();
  const problems = { unknown_key: 0, wrong_origin: 0, wrong_body: 0, stored_early: 0, due_early: 0 };
  for (const record of records) {
    const key = record.keys[0] ?? '';
    const origin = record.properties[p.system_properties.origin_message_id] ?? '';
    per_key.set(key, (per_key.get(key) ?? 0) + 1);
    per_origin.set(origin, (per_origin.get(origin) ?? 0) + 1);
    const expected = sent.get(key);
    if (expected === undefined) {
      problems.unknown_key++;
      continue;
    }
    if (origin !== expected.msg_id) problems.wrong_origin++;
    if (record.body.toString('utf8') !== bodyOf(Number(key.slice('key-'.length)))) problems.wrong_body++;
    const due_ms = Number(record.properties[p.system_properties.deliver_at_ms]);
    if (!(record.storeTimestamp >= due_ms)) problems.stored_early++;
    if (!(due_ms >= expected.before_ms + expected.delay_ms)) problems.due_early++;
  }
  const duplicated_keys = [...per_key].filter(([, count]) => count > 1).map(([key]) => key);
  const missing_keys = [...sent.keys()].filter((key) => !per_key.has(key));
  t.same({ duplicated: duplicated_keys.slice(0, 10), missing: missing_keys.slice(0, 10) }, { duplicated: [], missing: [] }, 'every key exactly once');
  t.equal([...per_origin.values()].filter((count) => count !== 1).length, 0, 'every ORIGIN_MESSAGE_ID exactly once');
  t.same(problems, { unknown_key: 0, wrong_origin: 0, wrong_body: 0, stored_early: 0, due_early: 0 },
    'each record is a sent message, under the id its producer got, with its body, stored no earlier than its DELIVER_AT_MS (itself no earlier than send time + delay)');
}

t.test('kill -9 while 10,000 scheduled messages are being delivered: after a restart each is stored exactly once, none early', { timeout: 120_000 }, async (t) => {
  const data_dir = tempDir(t);
  const first = await startLife(t, data_dir);
  // Due from 1 s after each send: sending all 10,000 takes about half a second, so deliveries
  // begin shortly after the last ack and go on for the 6 s of the spread (on a loaded machine
  // the first may come before the last ack: the kill below only needs some still to come).
  const { sent, last_due_ms } = await scheduleAll(t, first, 1_000);
  await killDuringDelivery(t, first);
  first.client.close();

  const second = await startLife(t, data_dir);
  await waitAllDelivered(t, second, last_due_ms);
  await checkStored(t, second, sent);
});

t.test('kill -9 twice (before anything is due, then during delivery): each message stored exactly once, none early', { timeout: 120_000 }, async (t) => {
  const data_dir = tempDir(t);
  const first = await startLife(t, data_dir);
  // Due from 6 s after the sends: the first kill, right after the last ack, comes before any.
  const { sent, last_due_ms } = await scheduleAll(t, first, 6_000);
  const before_kill = await storedCount(first);
  const first_due_ms = Math.min(...[...sent.values()].map((item) => item.before_ms + item.delay_ms));
  const exit = await first.node.signal('SIGKILL');
  t.equal(exit.signal, 'SIGKILL', 'first kill -9');
  t.equal(before_kill, 0, `nothing delivered before the first kill (the first was due ${first_due_ms - Date.now()} ms after it)`);
  first.client.close();

  const second = await startLife(t, data_dir);
  await killDuringDelivery(t, second);
  second.client.close();

  const third = await startLife(t, data_dir);
  await waitAllDelivered(t, third, last_due_ms);
  await checkStored(t, third, sent);
});
