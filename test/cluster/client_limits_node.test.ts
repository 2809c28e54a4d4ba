import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { Admin, Producer } from '../../src/client/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import type { Credentials } from '../../src/client/remoting/request_signer.js';
import { startNode } from '../cli/node_process.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { until } from '../client/client_helpers.js';

/**
 * Held pulls per client on a real broker: one client's long polls, over two connections, are
 * held up to its limit — the rest are answered empty at once — and the held ones are answered
 * with the message that arrives. With the ACL on the client is the account (its `limits` in
 * the ACL file); without, the source address (--held-pulls-per-client-max).
 */

const topic = 'Held';
const group = 'held-readers';
/** Long enough that no held pull times out during the test. */
const long_poll_ms = 20_000;

const secretOf = (access_key: string): string => `${access_key}-secret-0123456789`;
const keysOf = (access_key: string): Credentials => ({ accessKey: access_key, secretKey: secretOf(access_key) });

interface PullOutcome {
  status: string;
  bodies: string[];
}

/** Long polls at the end of the empty queue: `per_connection` on each of `connections`. */
async function longPolls(t: Test, broker: string, connections: number, per_connection: number, credentials?: Credentials): Promise<Array<Promise<PullOutcome>>> {
  const pulls: Array<Promise<PullOutcome>> = [];
  for (let index = 0; index < connections; index++) {
    const connection = await ClientConnection.connect(broker, { client_id: `held-${index}`, kind: 'CONSUMER', credentials, timeout_ms: long_poll_ms + 10_000 });
    t.teardown(() => connection.close());
    for (let pull = 0; pull < per_connection; pull++) {
      const body = p.encodePullRequest({ consumerGroup: group, topic, queueId: 0, queueOffset: 0, maxCount: 32, maxBytes: 1 << 20, tagExpression: '*', longPollTimeoutMs: long_poll_ms, commitOffset: null });
      pulls.push(connection.request(p.request_codes.PULL, body).then((reply) => {
        const decoded = p.decodePullResponse(reply);
        if (!decoded.ok) throw new Error(`unreadable PULL reply: ${decoded.error.message}`);
        return { status: decoded.value.status, bodies: decoded.value.messages.map((message) => Buffer.from(message.body).toString()) };
      }));
    }
  }
  return pulls;
}

/** Sends `pulls`, waits for the ones answered at once, then sends one message: the held ones get it. */
async function checkHeld(t: Test, options: { namesrv: string; broker: string; admin: Credentials | undefined; client: Credentials | undefined; connections: number; per_connection: number; held_max: number }): Promise<void> {
  const admin = new Admin({ namesrv: options.namesrv, instanceName: 'held-admin', ...options.admin });
  t.teardown(() => admin.close());
  await until('the broker registered', async () => ((await admin.cluster()).groups.length === 1 ? true : undefined));
  await admin.createTopic({ topic, queues: 1 });
  const pulls = await longPolls(t, options.broker, options.connections, options.per_connection, options.client);
  const answered: PullOutcome[] = [];
  for (const pull of pulls) void pull.then((outcome) => answered.push(outcome), () => undefined);
  const over = pulls.length - options.held_max;
  await until(`${over} pulls over the limit answered at once`, () => (answered.length >= over ? true : undefined));
  t.same(answered, Array.from({ length: over }, () => ({ status: 'NO_NEW_MSG', bodies: [] })), 'those over the client\'s limit: empty, at once');
  const producer = new Producer({ namesrv: options.namesrv, instanceName: 'held-producer', retries: 0, ...options.admin });
  await producer.start();
  t.teardown(() => producer.shutdown());
  t.equal((await producer.send({ topic, body: 'the awaited message' })).status, 'SEND_OK');
  const all = await Promise.all(pulls);
  const found = all.filter((outcome) => outcome.status === 'FOUND');
  t.equal(found.length, options.held_max, `the ${options.held_max} held pulls were answered by the message`);
  t.same(found.map((outcome) => outcome.bodies), Array.from({ length: options.held_max }, () => ['the awaited message']), 'each with its bytes');
}

t.test('ACL on: an account\'s held pulls are bounded by its limits.heldPulls, over its connections', async (t) => {
  const dir = tempDir(t);
  const acl_path = path.join(dir, 'acl.json');
  writeFileSync(acl_path, JSON.stringify({
    accounts: [
      { accessKey: 'node-admin', secretKey: secretOf('node-admin'), admin: true },
      { accessKey: 'held-team', secretKey: secretOf('held-team'), topicPerms: { [topic]: 'SUB' }, groupPerms: { [group]: 'SUB' }, limits: { heldPulls: 4 } },
    ],
  }));
  const node = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', path.join(dir, 'data'), '--threads', '2', '--log-level', 'warn', '--acl-file', acl_path,
  ], { MQ_ACCESS_KEY: 'node-admin', MQ_SECRET_KEY: secretOf('node-admin') });
  await checkHeld(t, { namesrv: node.ready['namesrv'] as string, broker: node.ready['broker'] as string, admin: keysOf('node-admin'), client: keysOf('held-team'), connections: 2, per_connection: 3, held_max: 4 });
});

t.test('ACL off: a source address\'s held pulls are bounded by --held-pulls-per-client-max', async (t) => {
  const dir = tempDir(t);
  const node = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', path.join(dir, 'data'), '--threads', '2', '--log-level', 'warn', '--held-pulls-per-client-max', '2',
  ]);
  await checkHeld(t, { namesrv: node.ready['namesrv'] as string, broker: node.ready['broker'] as string, admin: undefined, client: undefined, connections: 2, per_connection: 2, held_max: 2 });
});
