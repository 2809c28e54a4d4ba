import t, { type Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { Admin } from '../../src/client/admin.js';
import { runAdminCommand, type AdminCommandIo } from '../../src/client/admin_cli.js';
import { dead_letter_limits } from '../../src/client/admin_dead_letters.js';
import { MqError } from '../../src/runtime/errors.js';
import type { RequestHandler } from '../../src/server/remoting/request_router.js';
import { routeData, startFakeServer, type FakeServer } from './client_helpers.js';
import { storedMessage } from './fixtures/stored_messages.js';

/**
 * Admin's dead letters against two fake brokers (the first also answers as the nameserver):
 * listing reads every queue of %DLQ%<group> from its oldest offset, oldest first, bounded,
 * committing nothing; a resend finds the dead letter by either id and asks its own broker;
 * `mq-node admin dlq list|resend` on top.
 */

const dlq = p.deadLetterTopicOf('G');
const t0 = 1_700_000_000_000;

interface FakeBroker extends FakeServer {
  name: string;
  pulls: p.PullRequest[];
  resends: number[];
}

/** [queueId, queueOffset, store time offset, body] of each dead letter, per broker. */
const layout: Record<string, Array<[number, number, number, string?]>> = {
  'broker-a': [[0, 2, 20], [0, 3, 40, 'x'.repeat(100)], [0, 4, 60], [1, 0, 10], [1, 1, 50]],
  'broker-b': [[0, 0, 5], [0, 1, 30, 'line one\nline two'], [0, 2, 70]],
};

function deadLettersOf(broker_name: string): p.StoredMessage[] {
  return (layout[broker_name] ?? []).map(([queue_id, offset, at_ms, body]) => storedMessage(dlq, queue_id, offset, {
    msgId: `${broker_name === 'broker-a' ? 'AA' : 'BB'}${String(queue_id * 100 + offset).padStart(30, '0')}`,
    commitLogOffset: 90_000 + queue_id * 100 + offset,
    storeTimestamp: t0 + at_ms,
    reconsumeTimes: 16,
    tag: queue_id === 0 ? 'paid' : null,
    keys: offset === 0 ? ['order-1', 'order-2'] : [],
    properties: {
      [p.system_properties.origin_message_id]: `ORIGIN-${broker_name}-${queue_id}-${offset}`,
      [p.system_properties.origin_topic]: 'Orders',
    },
    ...(body === undefined ? {} : { body: Buffer.from(body) }),
  }));
}

async function fakeBroker(t: Test, name: string, routes: () => Map<string, string>): Promise<FakeBroker> {
  const stored = deadLettersOf(name);
  const pulls: p.PullRequest[] = [];
  const resends: number[] = [];
  const server = await startFakeServer(t, new Map<number, RequestHandler>([
    [p.request_codes.GET_ROUTE, (body) => {
      const request = p.decodeGetRouteRequest(body);
      if (!request.ok || request.value.topic !== dlq) throw new MqError('TOPIC_NOT_FOUND', 'no such topic');
      return p.encodeTopicRouteData(routeData(dlq, routes(), 2));
    }],
    [p.request_codes.GET_MIN_OFFSET, (body) => {
      const request = p.decodeGetOffsetRequest(body);
      if (!request.ok) throw new Error(request.error.message);
      const offsets = stored.filter((message) => message.queueId === request.value.queueId).map((message) => message.queueOffset);
      return p.encodeGetOffsetResponse({ offset: offsets.length === 0 ? 0 : Math.min(...offsets) });
    }],
    [p.request_codes.PULL, (body) => {
      const request = p.decodePullRequest(body);
      if (!request.ok) throw new Error(request.error.message);
      pulls.push(request.value);
      const { queueId, queueOffset, maxCount } = request.value;
      // At most 2 per reply: a broker may answer with fewer than asked for.
      const found = stored.filter((message) => message.queueId === queueId && message.queueOffset >= queueOffset).slice(0, Math.min(2, maxCount));
      const end = Math.max(0, ...stored.filter((message) => message.queueId === queueId).map((message) => message.queueOffset + 1));
      if (found.length === 0) return p.encodePullResponse({ status: 'NO_NEW_MSG', nextOffset: queueOffset, minOffset: 0, maxOffset: end, messages: [] });
      return p.encodePullResponse({ status: 'FOUND', nextOffset: (found.at(-1) as p.StoredMessage).queueOffset + 1, minOffset: 0, maxOffset: end, messages: found });
    }],
    [p.request_codes.RESEND_DEAD_LETTER, (body) => {
      const request = p.decodeResendDeadLetterRequest(body);
      if (!request.ok) throw new Error(request.error.message);
      resends.push(request.value.commitLogOffset);
      if (request.value.commitLogOffset === 90_101) throw new MqError('INTERNAL', 'the store failed this one');
      return p.encodeResendDeadLetterResponse({ status: 'SEND_OK', msgId: `NEW${request.value.commitLogOffset}`, brokerName: name, queueId: 3, queueOffset: 77, commitLogOffset: 123_456 });
    }],
  ]));
  return { ...server, name, pulls, resends };
}

async function fakeCluster(t: Test): Promise<{ a: FakeBroker; b: FakeBroker; admin: Admin }> {
  const addresses = new Map<string, string>();
  const a = await fakeBroker(t, 'broker-a', () => addresses);
  const b = await fakeBroker(t, 'broker-b', () => addresses);
  addresses.set('broker-a', a.address).set('broker-b', b.address);
  const admin = new Admin({ namesrv: a.address });
  t.teardown(() => admin.close());
  return { a, b, admin };
}

const order = (messages: ReadonlyArray<{ storeTimestamp: number }>): number[] => messages.map((message) => message.storeTimestamp - t0);

t.test('deadLetters: every queue from its oldest offset, oldest first, bounded, committing nothing', async (t) => {
  const { a, b, admin } = await fakeCluster(t);
  const all = await admin.deadLetters('G');
  t.same(order(all), [5, 10, 20, 30, 40, 50, 60, 70], 'both brokers, both queues, sorted by store time');
  t.match(all[0], { topic: dlq, brokerName: 'broker-b', queueId: 0, queueOffset: 0, reconsumeTimes: 16, properties: { ORIGIN_TOPIC: 'Orders' } });
  t.equal(a.pulls.filter((pull) => pull.queueId === 0)[0]?.queueOffset, 2, 'a queue is read from its min offset');
  const pulls = [...a.pulls, ...b.pulls];
  t.ok(pulls.every((pull) => pull.commitOffset === null && pull.longPollTimeoutMs === 0 && pull.tagExpression === '*' && pull.topic === dlq), 'read-only pulls: no commit, no long poll');
  t.notOk([...a.codes, ...b.codes].includes(p.request_codes.COMMIT_CONSUMER_OFFSET), 'no offset commit');

  const oldest = await admin.deadLetters('G', { max: 3 });
  t.same(order(oldest), [5, 10, 20], 'max: the oldest ones');
  t.same(await admin.deadLetters('NoDeadLetters'), [], 'a group without a dead-letter topic has none');
  await t.rejects(admin.deadLetters('G', { max: 0 }), { code: 'BAD_REQUEST', message: /max must be an integer/ });
  await t.rejects(admin.deadLetters('G', { max: dead_letter_limits.scan_max + 1 }), { code: 'BAD_REQUEST' });
  await t.rejects(admin.deadLetters('bad group'), { code: 'BAD_REQUEST', message: /group name/ });
});

t.test('resendDeadLetter: by the producer\'s id or the dead letter\'s own, at the broker that holds it', async (t) => {
  const { a, b, admin } = await fakeCluster(t);
  t.same(await admin.resendDeadLetter('G', 'ORIGIN-broker-b-0-2'), { status: 'SEND_OK', msgId: 'NEW90002', brokerName: 'broker-b', queueId: 3, queueOffset: 77 },
    'the SDK SendResult of the resend');
  t.same(b.resends, [90_002], 'broker-b was asked, with the dead letter\'s CommitLog offset');
  const own_id = `AA${String(3).padStart(30, '0')}`;
  await admin.resendDeadLetter('G', own_id.toLowerCase());
  t.same(a.resends, [90_003], 'by its own id, any case');
  await t.rejects(admin.resendDeadLetter('G', 'NO-SUCH-ID'), { code: 'BAD_REQUEST', message: /no dead letter of group G has message id NO-SUCH-ID/ });
  await t.rejects(admin.resendDeadLetter('NoDeadLetters', 'ORIGIN-broker-b-0-2'), { code: 'BAD_REQUEST' });
  await t.rejects(admin.resendDeadLetter('G', ''), { code: 'BAD_REQUEST', message: /message id/ });
});

t.test('resendDeadLetters: each listed one, oldest first; a failure is reported and the others go on', async (t) => {
  const { a, b, admin } = await fakeCluster(t);
  const outcomes = await admin.resendDeadLetters('G', { max: 4 });
  t.same(order(outcomes.map((outcome) => outcome.deadLetter)), [5, 10, 20, 30]);
  t.same(outcomes.map((outcome) => outcome.result?.msgId ?? outcome.error?.code), ['NEW90000', 'NEW90100', 'NEW90002', 'NEW90001']);
  t.same([...a.resends].sort(), [90_002, 90_100]);
  t.same([...b.resends].sort(), [90_000, 90_001]);
  const every = await admin.resendDeadLetters('G');
  t.same(every.filter((outcome) => outcome.error !== null).map((outcome) => [outcome.deadLetter.commitLogOffset, outcome.error?.code]), [[90_101, 'INTERNAL']]);
  t.equal(every.filter((outcome) => outcome.result !== null).length, 7);
});

function capture(): AdminCommandIo & { out: string; err: string } {
  const io = { out: '', err: '', env: {}, nowMs: () => t0, stdout: (text: string) => void (io.out += text), stderr: (text: string) => void (io.err += text) };
  return io;
}

t.test('mq-node admin dlq list', async (t) => {
  const { a } = await fakeCluster(t);
  const table = capture();
  t.equal(await runAdminCommand(['dlq', 'list', '--group', 'G', '--namesrv', a.address], table), 0, table.err);
  const lines = table.out.trimEnd().split('\n');
  t.match(lines[0], /^MSG ID\s+ORIGIN TOPIC\s+RECONSUME TIMES\s+STORED\s+TAG\s+KEYS\s+BODY$/);
  t.equal(lines.length, 2 + 8 + 1, 'header, rule, 8 rows, summary');
  t.match(lines[2], /^ORIGIN-broker-b-0-0\s+Orders\s+16\s+2023-11-14T22:13:20\.005Z\s+paid\s+order-1 order-2\s+body /);
  const long = lines.find((line) => line.startsWith('ORIGIN-broker-a-0-3')) ?? '';
  t.ok(long.endsWith(`${'x'.repeat(37)}...`), 'a long body is cut at 40 characters');
  t.ok(lines.some((line) => line.startsWith('ORIGIN-broker-b-0-1') && line.endsWith('line one line two')), 'a newline shows as a space');
  t.match(lines.at(-1), /group G: 8 dead letter/);

  const bounded = capture();
  t.equal(await runAdminCommand(['dlq', 'list', '--group', 'G', '--max', '2', '--json', '--namesrv', a.address], bounded), 0, bounded.err);
  const listed = JSON.parse(bounded.out) as Array<{ msgId: string; body: string; bodyEncoding: string; properties: Record<string, string> }>;
  t.same(listed.map((message) => message.properties['ORIGIN_MESSAGE_ID']), ['ORIGIN-broker-b-0-0', 'ORIGIN-broker-a-1-0']);
  t.equal(listed[0]?.bodyEncoding, 'base64');

  const none = capture();
  t.equal(await runAdminCommand(['dlq', 'list', '--group', 'Quiet', '--namesrv', a.address], none), 0);
  t.equal(none.out, 'group Quiet: no dead letters\n');

  for (const argv of [['dlq', 'list'], ['dlq', 'list', '--group', 'G', '--max', 'many']]) {
    const bad = capture();
    t.equal(await runAdminCommand([...argv, '--namesrv', a.address], bad), 2, argv.join(' '));
    t.match(bad.err, /--group|--max/);
  }
});

t.test('mq-node admin dlq resend', async (t) => {
  const { a, b } = await fakeCluster(t);
  const one = capture();
  t.equal(await runAdminCommand(['dlq', 'resend', '--group', 'G', '--msg-id', 'ORIGIN-broker-a-1-0', '--namesrv', a.address], one), 0, one.err);
  t.match(one.out, /^MSG ID\s+STATUS\s+NEW MSG ID\s+BROKER\s+QUEUE\s+QUEUE OFFSET\n/);
  t.match(one.out, /ORIGIN-broker-a-1-0\s+SEND_OK\s+NEW90100\s+broker-a\s+3\s+77/);
  t.same(a.resends, [90_100]);

  const missing = capture();
  t.equal(await runAdminCommand(['dlq', 'resend', '--group', 'G', '--msg-id', 'NOPE', '--namesrv', a.address], missing), 1);
  t.match(missing.err, /BAD_REQUEST: no dead letter of group G has message id NOPE/);

  const all = capture();
  t.equal(await runAdminCommand(['dlq', 'resend', '--group', 'G', '--all', '--namesrv', a.address], all), 1, 'one of them failed: exit 1');
  t.equal(all.out.trimEnd().split('\n').length, 2 + 8, 'a row per dead letter');
  t.match(all.out, /ORIGIN-broker-a-1-1\s+FAILED INTERNAL/);
  t.match(all.err, /INTERNAL: 1 of 8 dead letters were not resent/);
  t.equal(a.resends.length + b.resends.length, 1 + 8);

  for (const argv of [['dlq', 'resend', '--group', 'G'], ['dlq', 'resend', '--group', 'G', '--all', '--msg-id', 'X'], ['dlq', 'resend', '--msg-id', 'X']]) {
    const bad = capture();
    t.equal(await runAdminCommand([...argv, '--namesrv', a.address], bad), 2, argv.join(' '));
  }
  const help = capture();
  t.equal(await runAdminCommand(['--help'], help), 0);
  t.match(help.out, /dlq list --group G \[--max N\]/);
  t.match(help.out, /dlq resend --group G \(--msg-id ID \| --all \[--max N\]\)/);
});
