import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import {
  Admin,
  Consumer,
  TransactionProducer,
  parseMessageId,
  type Message,
  type ReceivedMessage,
  type TransactionCheck,
  type TransactionOutcome,
  type TransactionSendResult,
} from '../../src/client/index.js';
import * as p from '../../src/protocol/index.js';
import { childEnv, startNode, type NodeProcess } from '../cli/node_process.js';
import { inParallel, topicRecordCount, topicRecords, until } from '../client/client_helpers.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { transactionBodyOf, transactionIndexOf, transactionKeyOf } from './fixtures/transaction_messages.js';

/**
 * Transaction messages end to end, against real `mq-node --role standalone` processes over
 * real sockets: each outcome of the local transaction and of the check-back, a producer
 * killed (SIGKILL) between its half messages and their outcomes, and the broker killed
 * (SIGKILL, --flush sync) with 1,000 undecided transactions — twice, the second time in the
 * middle of resolving them.
 *
 * What is stored is read back by raw PULL of every queue of the real topic from offset 0
 * (what a consumer could ever see, not what one consumer happened to see), and compared with
 * what was sent: body bytes, keys, and ORIGIN_MESSAGE_ID = the msgId the producer got.
 *
 * Waits are bounded polls for a condition. The "nothing more happens" windows wait past the
 * check interval, when the broker would ask about any message still undecided; what proves
 * the outcome is the data read back afterwards.
 */

const tx_test_limits = {
  /** --transaction-check-interval-ms of the test nodes: short, so check-backs come quickly. */
  check_interval_ms: 500,
  /** Queues of the test topic. */
  queues: 4,
  /** Transactions the killed producer leaves undecided. */
  orphaned: 20,
  /** The broker kill test: undecided transactions, and decided ones of each outcome. */
  undecided: 1_000,
  decided_per_outcome: 100,
  /** Of the undecided ones, those answered before the second kill (indices below this). */
  answered_before_second_kill: 500,
  sends_in_flight: 32,
  /**
   * The kill test's check interval: its 1,000 undecided ones are asked about once per interval
   * (the broker hands out up to 256 a round, a round every quarter interval: 1,024 per interval).
   */
  kill_check_interval_ms: 1_000,
  /** Resolving 1,000 check-backs takes a few seconds; room for a loaded machine. */
  resolve_timeout_ms: 60_000,
} as const;

// Run directly (`node dist/test/...`), tap's root test times out after 30 s; the tap runner's
// per-file timeout (.taprc) still applies.
t.setTimeout(200_000);

const topic = 'Orders';
const quiet = { warn: () => undefined };

interface TxNode {
  node: NodeProcess;
  namesrv: string;
  broker: string;
}

async function startTxNode(t: Test, data_dir: string, extra_flags: readonly string[] = [], check_interval_ms: number = tx_test_limits.check_interval_ms): Promise<TxNode> {
  const node = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', data_dir, '--threads', '2', '--log-level', 'warn', '--heartbeat-interval-ms', '200',
    '--transaction-check-interval-ms', String(check_interval_ms), ...extra_flags,
  ]);
  return { node, namesrv: node.ready['namesrv'] as string, broker: node.ready['broker'] as string };
}

async function createTopic(t: Test, namesrv: string): Promise<void> {
  const admin = new Admin({ namesrv });
  t.teardown(() => admin.close());
  // The ready line can come before the broker's first registration (NO_ROUTE until then).
  await until(`topic ${topic} created and routed`, () => admin.createTopic({ topic, queues: tx_test_limits.queues }));
  await admin.close();
}

/** Every check-back this process answered, by the key of the message asked about. */
class CheckLog {
  readonly by_key = new Map<string, number>();

  /** A check that records the call, then answers `answer(index)`. */
  check(answer: (index: number, key: string) => TransactionOutcome): TransactionCheck {
    return async (message) => {
      const key = message.keys[0] ?? '';
      this.by_key.set(key, (this.by_key.get(key) ?? 0) + 1);
      return answer(transactionIndexOf(key), key);
    };
  }

  count(key: string): number {
    return this.by_key.get(key) ?? 0;
  }

  get total(): number {
    let total = 0;
    for (const count of this.by_key.values()) total += count;
    return total;
  }
}

/** Heartbeats every 200 ms, so a broker that registers after the start learns of it at once. */
async function startTxProducer(t: Test, namesrv: string, group: string, check: TransactionCheck): Promise<TransactionProducer> {
  const producer = new TransactionProducer({ namesrv, group, check, logger: quiet, heartbeatIntervalMs: 200 });
  t.teardown(() => producer.shutdown());
  await producer.start();
  return producer;
}

/** Every record of the real topic, by raw PULL of each queue from offset 0. */
function storedRecords(broker: string): Promise<p.StoredMessage[]> {
  return topicRecords(broker, topic, tx_test_limits.queues);
}

/** How many records the real topic holds. */
function storedCount(broker: string): Promise<number> {
  return topicRecordCount(broker, topic, tx_test_limits.queues);
}

/** What the real topic must hold: each index once, with its body, under the id its producer got. */
function checkStored(t: Test, records: readonly p.StoredMessage[], expected: ReadonlyMap<number, string>, what: string): void {
  const seen = new Map<number, number>();
  const problems = { unknown_key: 0, wrong_body: 0, wrong_origin: 0, half_message_properties: 0, prepared_flag: 0 };
  for (const record of records) {
    const index = transactionIndexOf(record.keys[0]);
    seen.set(index, (seen.get(index) ?? 0) + 1);
    const msg_id = expected.get(index);
    if (msg_id === undefined) {
      problems.unknown_key++;
      continue;
    }
    if (!record.body.equals(transactionBodyOf(index))) problems.wrong_body++;
    if (record.properties[p.system_properties.origin_message_id] !== msg_id) problems.wrong_origin++;
    if (record.properties[p.system_properties.real_topic] !== undefined || record.properties[p.system_properties.real_queue_id] !== undefined) problems.half_message_properties++;
    if ((record.flags & p.transaction_flags.prepared) !== 0) problems.prepared_flag++;
  }
  const duplicated = [...seen].filter(([, count]) => count > 1).map(([index]) => index);
  const missing = [...expected.keys()].filter((index) => !seen.has(index));
  t.same({ duplicated: duplicated.slice(0, 10), missing: missing.slice(0, 10) }, { duplicated: [], missing: [] }, `${what}: every committed transaction stored exactly once`);
  t.same(problems, { unknown_key: 0, wrong_body: 0, wrong_origin: 0, half_message_properties: 0, prepared_flag: 0 },
    `${what}: no rolled-back or undecided message stored; each record has its body, ORIGIN_MESSAGE_ID = the half message's msgId, no REAL_TOPIC/REAL_QID and no prepared flag`);
  t.equal(records.length, expected.size, `${what}: exactly ${expected.size} records in the topic`);
}

/**
 * Waits two check intervals and asserts that no check-back came in them: the broker asks
 * about every undecided message once per interval, so none is left undecided.
 */
async function noMoreChecks(t: Test, checks: CheckLog, check_interval_ms: number, what: string): Promise<void> {
  const before = checks.total;
  const window_ms = check_interval_ms * 2;
  await new Promise((resolve) => setTimeout(resolve, window_ms));
  t.equal(checks.total, before, `${what}: no check-back in ${window_ms} ms (two check intervals), so no transaction is left undecided`);
}

t.test('each outcome: commit delivered, rollback never, UNKNOWN then a checked COMMIT delivered, UNKNOWN forever rolled back after the maximum checks', { timeout: 90_000 }, async (t) => {
  const check_max = 3;
  const { node, namesrv, broker } = await startTxNode(t, tempDir(t), ['--transaction-check-max', String(check_max)]);
  await createTopic(t, namesrv);

  // A consumer from the first offset, running all along: it must never see a half message.
  const received: ReceivedMessage[] = [];
  const consumer = new Consumer({
    namesrv, group: 'OrderReaders', subscriptions: [{ topic }], fromWhere: 'first', logger: quiet,
    rebalanceIntervalMs: 200, commitIntervalMs: 200, longPollTimeoutMs: 1_000,
  });
  consumer.onMessage(async (message) => {
    received.push(message);
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();

  // Index → what the check answers: 2 is committed by its check, 3 is never known.
  const checks = new CheckLog();
  const producer = await startTxProducer(t, namesrv, 'Payments', checks.check((index) => (index === 2 ? 'COMMIT' : 'UNKNOWN')));
  const messageOf = (index: number): Message => ({
    topic, body: transactionBodyOf(index), tag: 'paid', keys: [transactionKeyOf(index), 'shared'], properties: { order: `order-${index}` },
  });

  const visible_while_local_tx_runs: string[] = [];
  const results = new Map<number, TransactionSendResult>();
  const local_outcomes: Array<TransactionOutcome | 'throw'> = ['COMMIT', 'ROLLBACK', 'UNKNOWN', 'throw'];
  for (const [index, local] of local_outcomes.entries()) {
    results.set(index, await producer.sendInTransaction(messageOf(index), async () => {
      // The half message is stored by now, and must not be in its topic.
      if ((await storedRecords(broker)).some((record) => record.keys[0] === transactionKeyOf(index))) visible_while_local_tx_runs.push(transactionKeyOf(index));
      if (local === 'throw') throw new Error('the order database is down');
      return local;
    }));
  }
  t.same(visible_while_local_tx_runs, [], 'while each local transaction ran, its half message was not in the topic');
  t.match(Object.fromEntries([...results].map(([index, result]) => [index, { status: result.status, outcome: result.outcome, endTransaction: result.endTransaction }])), {
    0: { status: 'SEND_OK', outcome: 'COMMIT', endTransaction: 'COMMITTED' },
    1: { status: 'SEND_OK', outcome: 'ROLLBACK', endTransaction: 'ROLLED_BACK' },
    2: { status: 'SEND_OK', outcome: 'UNKNOWN', endTransaction: 'UNDECIDED' },
    3: { status: 'SEND_OK', outcome: 'UNKNOWN', endTransaction: 'UNDECIDED' },
  }, 'each local outcome reached the broker; a throwing local transaction counts as UNKNOWN');

  // Message 3 is checked `check_max` times, then rolled back; the broker logs it.
  const half_offset_3 = parseMessageId((results.get(3) as TransactionSendResult).msgId).commitLogOffset;
  const give_up = await until('the broker gives message 3 up', () => node.stderr().split('\n').find((line) => line.includes('transaction rolled back') && line.includes(`"half_offset":${half_offset_3}`)), 30_000);
  t.match(JSON.parse(give_up) as object, { producer_group: 'Payments', checks: check_max }, 'logged with its producer group and the number of checks');
  t.equal(checks.count(transactionKeyOf(3)), check_max, `message 3 was checked ${check_max} times (the maximum), not more`);
  t.ok(checks.count(transactionKeyOf(2)) >= 1, 'message 2 was checked: its check committed it');

  // A fence: a transaction committed after the give-up; once it is received, nothing before it is still coming.
  results.set(4, await producer.sendInTransaction(messageOf(4), async () => 'COMMIT'));
  await until('messages 0, 2 and 4 received', () => (received.some((message) => message.keys[0] === transactionKeyOf(4)) && received.length >= 3 ? true : undefined));
  await noMoreChecks(t, checks, tx_test_limits.check_interval_ms, 'after the fence');

  t.same(received.map((message) => message.keys[0]).sort(), [0, 2, 4].map(transactionKeyOf), 'the consumer (fromWhere: first) received the committed ones, once each, and no half message');
  for (const message of received) {
    const index = transactionIndexOf(message.keys[0]);
    const what = `message ${index}`;
    t.equal(message.topic, topic, `${what}: in its real topic`);
    t.same(message.body, transactionBodyOf(index), `${what}: body`);
    t.equal(message.tag, 'paid', `${what}: tag`);
    t.same(message.keys, [transactionKeyOf(index), 'shared'], `${what}: keys`);
    t.equal(message.properties['order'], `order-${index}`, `${what}: user property`);
    t.equal(message.properties[p.system_properties.origin_message_id], results.get(index)?.msgId, `${what}: ORIGIN_MESSAGE_ID is the msgId sendInTransaction gave`);
  }
  t.equal(checks.count(transactionKeyOf(0)) + checks.count(transactionKeyOf(1)) + checks.count(transactionKeyOf(4)), 0, 'decided transactions are never checked back');
  checkStored(t, await storedRecords(broker), new Map([0, 2, 4].map((index) => [index, (results.get(index) as TransactionSendResult).msgId])), 'the topic');
});

/** Runs the producer child (fixtures/transaction_producer_child.ts); killed at teardown unless exited. */
function startProducerChild(t: Test, options: { namesrv: string; group: string; topic: string; count: number }) {
  const child_path = fileURLToPath(new URL('./fixtures/transaction_producer_child.js', import.meta.url));
  const child = spawn(process.execPath, [child_path, JSON.stringify(options)], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  t.teardown(() => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
  });
  const halves = new Map<number, string>();
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as { e: string; index: number; msgId: string };
      if (parsed.e === 'half') halves.set(parsed.index, parsed.msgId);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 1 << 20) stderr += chunk;
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  return { child, halves, exited, stderr: () => stderr };
}

t.test('a producer killed (SIGKILL) between its half messages and their outcomes: another producer of its group answers the check-backs', { timeout: 90_000 }, async (t) => {
  const { namesrv, broker } = await startTxNode(t, tempDir(t));
  await createTopic(t, namesrv);
  const group = 'Shipping';
  const first = startProducerChild(t, { namesrv, group, topic, count: tx_test_limits.orphaned });
  await until(`the child stored ${tx_test_limits.orphaned} half messages (stderr: ${first.stderr()})`, () => (first.halves.size === tx_test_limits.orphaned ? true : undefined));
  first.child.kill('SIGKILL');
  t.equal(await first.exited, 'SIGKILL', 'the first producer was killed in the middle of its local transactions');
  t.equal(await storedCount(broker), 0, 'nothing is in the topic: every transaction is undecided');

  // The second producer of the group: even indices were committed in the business database, odd ones not.
  const checks = new CheckLog();
  await startTxProducer(t, namesrv, group, checks.check((index) => (index % 2 === 0 ? 'COMMIT' : 'ROLLBACK')));
  const committed = new Map([...first.halves].filter(([index]) => index % 2 === 0));
  await until(`the ${committed.size} committed transactions stored`, async () => ((await storedCount(broker)) >= committed.size ? true : undefined), tx_test_limits.resolve_timeout_ms);
  await until('every orphaned transaction checked', () => (first.halves.size === [...first.halves.keys()].filter((index) => checks.count(transactionKeyOf(index)) > 0).length ? true : undefined));
  await noMoreChecks(t, checks, tx_test_limits.check_interval_ms, 'once all were answered');
  checkStored(t, await storedRecords(broker), committed, 'the topic');
});

/** One life of the broker kill test: the node on the data directory and its producer. */
interface Life {
  node: TxNode;
  producer: TransactionProducer;
  checks: CheckLog;
}

t.test(`broker killed (SIGKILL, --flush sync) with ${tx_test_limits.undecided} undecided transactions, then again while resolving them: none lost, none delivered twice`, { timeout: 150_000 }, async (t) => {
  const data_dir = tempDir(t);
  const { undecided, decided_per_outcome, answered_before_second_kill } = tx_test_limits;
  // Indices 0..undecided-1 are left UNKNOWN by the local transaction; of the next ones, even
  // are committed and odd rolled back at once. After the restarts the checks answer COMMIT for
  // even undecided indices and ROLLBACK for odd ones.
  const decided_first = undecided;
  const decided_end = undecided + 2 * decided_per_outcome;
  const answerOf = (index: number): TransactionOutcome => (index % 2 === 0 ? 'COMMIT' : 'ROLLBACK');
  const unexpected_checks: string[] = [];

  const startLife = async (answer: (index: number) => TransactionOutcome): Promise<Life> => {
    // Checks are answered UNKNOWN for a while: the maximum must not roll anything back here.
    const node = await startTxNode(t, data_dir, ['--flush', 'sync', '--transaction-check-max', '1000'], tx_test_limits.kill_check_interval_ms);
    const checks = new CheckLog();
    const producer = await startTxProducer(t, node.namesrv, 'Billing', checks.check((index, key) => {
      if (index >= decided_first) {
        // A decided transaction must never be asked about; answer the opposite, so that a lost
        // outcome would also show in the data.
        unexpected_checks.push(key);
        return index % 2 === 0 ? 'ROLLBACK' : 'COMMIT';
      }
      return answer(index);
    }));
    return { node, producer, checks };
  };

  // Life 1: the sends. The producer does not know the outcomes of the undecided ones yet.
  const first = await startLife(() => 'UNKNOWN');
  await createTopic(t, first.node.namesrv);
  const sent = new Map<number, string>();
  let not_as_expected = 0;
  const indices = Array.from({ length: decided_end }, (_, index) => index);
  await inParallel(indices, tx_test_limits.sends_in_flight, async (index) => {
    const outcome: TransactionOutcome = index < decided_first ? 'UNKNOWN' : answerOf(index);
    const result = await first.producer.sendInTransaction({ topic, body: transactionBodyOf(index), keys: [transactionKeyOf(index)] }, async () => outcome);
    sent.set(index, result.msgId);
    const expected = outcome === 'UNKNOWN' ? 'UNDECIDED' : outcome === 'COMMIT' ? 'COMMITTED' : 'ROLLED_BACK';
    if (result.status !== 'SEND_OK' || result.endTransaction !== expected) not_as_expected++;
  });
  t.equal(not_as_expected, 0, `all ${decided_end} half messages SEND_OK and each END_TRANSACTION recorded as sent`);
  const kill1 = await first.node.node.signal('SIGKILL');
  t.equal(kill1.signal, 'SIGKILL', `broker killed -9 with ${undecided} undecided transactions`);
  await first.producer.shutdown();

  const committed_decided = new Map([...sent].filter(([index]) => index >= decided_first && index % 2 === 0));
  const committedBy = (limit: number) => new Map([...committed_decided, ...[...sent].filter(([index]) => index < limit && index % 2 === 0)]);

  // Life 2: only the first `answered_before_second_kill` are known; then kill -9 again.
  const second = await startLife((index) => (index < answered_before_second_kill ? answerOf(index) : 'UNKNOWN'));
  const partly = committedBy(answered_before_second_kill);
  await until(`the ${partly.size} transactions known so far committed and stored`, async () => ((await storedCount(second.node.broker)) >= partly.size ? true : undefined), tx_test_limits.resolve_timeout_ms);
  const unknown_checked = [...sent.keys()].filter((index) => index >= answered_before_second_kill && index < undecided && second.checks.count(transactionKeyOf(index)) > 0).length;
  const kill2 = await second.node.node.signal('SIGKILL');
  t.equal(kill2.signal, 'SIGKILL', `killed -9 again, with ${unknown_checked} of the still-unknown ones checked back already`);
  await second.producer.shutdown();

  // Life 3: every outcome is known.
  const third = await startLife(answerOf);
  const all = committedBy(undecided);
  await until(`all ${all.size} committed transactions stored`, async () => ((await storedCount(third.node.broker)) >= all.size ? true : undefined), tx_test_limits.resolve_timeout_ms);
  const answered = (index: number) => second.checks.count(transactionKeyOf(index)) > 0 || third.checks.count(transactionKeyOf(index)) > 0;
  await until('every undecided transaction checked back', () => (indices.filter((index) => index < undecided && !answered(index)).length === 0 ? true : undefined), tx_test_limits.resolve_timeout_ms);
  await noMoreChecks(t, third.checks, tx_test_limits.kill_check_interval_ms, 'after the second restart');
  const still_unknown_in_life_3 = indices.filter((index) => index >= answered_before_second_kill && index < undecided && third.checks.count(transactionKeyOf(index)) === 0);
  t.same(still_unknown_in_life_3, [], 'each transaction left unknown before the second kill was checked again after it');
  t.same(unexpected_checks, [], 'no transaction decided before a kill was checked back after it (its outcome survived)');
  checkStored(t, await storedRecords(third.node.broker), all, 'after two kills');
});
