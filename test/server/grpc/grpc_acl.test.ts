import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { Admin } from '../../../src/client/index.js';
import { signDateTime } from '../../../src/server/grpc/grpc_auth.js';
import { Code, type QueryRouteResponse, type TelemetryCommand } from '../../../src/server/grpc/grpc_types.js';
import { messagingServiceClient } from '../../../src/server/grpc/grpc_proto.js';
import { until } from '../../client/client_helpers.js';
import { tempDir } from '../../storage/commit_log_helpers.js';
import { createTopics, failureOf, officialProducer, RawClient, startGrpcNode } from './grpc_helpers.js';

/**
 * The gRPC endpoint of a node with --acl-file: the official client signs with
 * sessionCredentials {accessKey, accessSecret} (MQv2-HMAC-SHA1 over x-mq-date-time). An
 * account with PUB sends; no credentials, a wrong secret or a stale date-time are
 * UNAUTHORIZED (40100); an account without PUB is FORBIDDEN (40300); a telemetry stream
 * without a signature gets one UNAUTHORIZED status and ends. Only the allowed sends are stored.
 * The consumer calls need SUB on the topic and the group.
 */

t.setTimeout(60_000);

const secret = (name: string): string => `${name}-secret-0123456789`;
const accounts = {
  node: { accessKey: 'node-admin', secretKey: secret('node-admin'), admin: true },
  operator: { accessKey: 'operator', secretKey: secret('operator'), admin: true },
  publisher: { accessKey: 'grpc-publisher', secretKey: secret('grpc-publisher'), topicPerms: { GrpcSecured: 'PUB' } },
  reader: { accessKey: 'grpc-reader', secretKey: secret('grpc-reader'), topicPerms: { GrpcSecured: 'SUB' }, groupPerms: { 'acl-consumers': 'SUB' } },
};
const topic = 'GrpcSecured';
const window_ms = 30_000;
const allowed_sends = 10;

function credentialsOf(account: { accessKey: string; secretKey: string }, secret_key = account.secretKey): { accessKey: string; accessSecret: string } {
  return { accessKey: account.accessKey, accessSecret: secret_key };
}

/** The metadata the official client sends, signed at `at` (BaseClient.ts getRequestMetadata). */
function signedMetadata(account: { accessKey: string; secretKey: string }, at: Date): grpc.Metadata {
  const date_time = `${at.toISOString().split('.')[0]?.replace(/[-:]/g, '')}Z`;
  const metadata = new grpc.Metadata();
  metadata.set('x-mq-client-id', 'acl-test@1@1@raw');
  metadata.set('x-mq-date-time', date_time);
  metadata.set('authorization', `MQv2-HMAC-SHA1 Credential=${account.accessKey}, SignedHeaders=x-mq-date-time, Signature=${signDateTime(account.secretKey, date_time)}`);
  return metadata;
}

t.test('a node with access control: signed, refused, forbidden', async (t) => {
  const dir = tempDir(t);
  const acl_path = path.join(dir, 'acl.json');
  writeFileSync(acl_path, JSON.stringify({ accounts: Object.values(accounts) }));
  const node = await startGrpcNode(t, ['--acl-file', acl_path, '--acl-window-ms', String(window_ms)], { MQ_ACCESS_KEY: accounts.node.accessKey, MQ_SECRET_KEY: accounts.node.secretKey });
  await createTopics(t, node.namesrv, [topic], 2, { accessKey: accounts.operator.accessKey, secretKey: accounts.operator.secretKey });

  await t.test('an account with PUB sends', async (t) => {
    const producer = await officialProducer(t, { endpoints: node.grpc, topic, sessionCredentials: credentialsOf(accounts.publisher) });
    for (let index = 0; index < allowed_sends; index++) {
      const receipt = await producer.send({ topic, body: Buffer.from(`allowed ${index}`) });
      t.ok(receipt.offset >= 0, `send ${index} stored at offset ${receipt.offset}`);
    }
  });

  await t.test('no credentials, a wrong secret: UNAUTHORIZED 40100', async (t) => {
    const anonymous = await officialProducer(t, { endpoints: node.grpc, maxAttempts: 1 });
    t.match(await failureOf(anonymous.send({ topic, body: Buffer.from('anonymous') })), { name: 'UnauthorizedException', code: Code.UNAUTHORIZED, message: /not signed/ });
    const wrong = await officialProducer(t, { endpoints: node.grpc, maxAttempts: 1, sessionCredentials: credentialsOf(accounts.publisher, 'not-the-secret-at-all') });
    t.match(await failureOf(wrong.send({ topic, body: Buffer.from('wrong secret') })), { name: 'UnauthorizedException', code: Code.UNAUTHORIZED, message: /unknown here, or the signature does not match/ });
    const unknown = await officialProducer(t, { endpoints: node.grpc, maxAttempts: 1, sessionCredentials: { accessKey: 'nobody-here', accessSecret: 'whatever-secret-123' } });
    t.match(await failureOf(unknown.send({ topic, body: Buffer.from('unknown key') })), { code: Code.UNAUTHORIZED, message: /unknown here, or the signature does not match/ }, 'an unknown key gets the same answer');
  });

  await t.test('an account without PUB: routes, but its send is FORBIDDEN 40300', async (t) => {
    const reader = await officialProducer(t, { endpoints: node.grpc, topic, maxAttempts: 1, sessionCredentials: credentialsOf(accounts.reader) });
    t.match(await failureOf(reader.send({ topic, body: Buffer.from('not allowed') })), { name: 'ForbiddenException', code: Code.FORBIDDEN, message: /account "grpc-reader" may not use PUB on topic GrpcSecured/ });
  });

  await t.test('consumer calls need SUB: an account with only PUB is FORBIDDEN', async (t) => {
    const raw = new RawClient(t, node.grpc);
    const resources = { topic: { name: topic, resource_namespace: '' }, group: { name: 'acl-consumers', resource_namespace: '' } };
    const assignment = await raw.call<{ status: { code: number; message: string } }>('QueryAssignment', resources, signedMetadata(accounts.publisher, new Date()));
    t.match(assignment.status, { code: Code.FORBIDDEN, message: /grpc-publisher/ }, 'QueryAssignment');
    const ack = await raw.call<{ status: { code: number } }>('AckMessage', { ...resources, entries: [{ message_id: 'M', receipt_handle: 'AAAA' }] }, signedMetadata(accounts.publisher, new Date()));
    t.equal(ack.status.code, Code.FORBIDDEN, 'AckMessage');
    const allowed = await raw.call<{ status: { code: number }; assignments: unknown[] }>('QueryAssignment', resources, signedMetadata(accounts.reader, new Date()));
    t.match(allowed, { status: { code: Code.OK }, assignments: [{ message_queue: { id: 0, topic: { name: topic } } }] }, 'an account with SUB gets its assignment');
  });

  await t.test('raw calls: a date-time outside the window is UNAUTHORIZED; within it, routed', async (t) => {
    const raw = new RawClient(t, node.grpc);
    const request = { topic: { name: topic, resource_namespace: '' } };
    const stale = await raw.call<QueryRouteResponse>('QueryRoute', request, signedMetadata(accounts.publisher, new Date(Date.now() - 2 * window_ms)));
    t.same([stale.status.code, /more than 30000 ms from this node's clock/.test(stale.status.message)], [Code.UNAUTHORIZED, true], stale.status.message);
    const fresh = await raw.call<QueryRouteResponse>('QueryRoute', request, signedMetadata(accounts.reader, new Date()));
    t.same([fresh.status.code, fresh.message_queues.length], [Code.OK, 1], 'any account of the ACL may ask for a route');
  });

  await t.test('a telemetry stream without a signature: one UNAUTHORIZED status, then the end', async (t) => {
    const Constructor = messagingServiceClient();
    const client = new Constructor(node.grpc, grpc.credentials.createInsecure());
    t.teardown(() => client.close());
    const metadata = new grpc.Metadata();
    metadata.set('x-mq-client-id', 'acl-test@1@2@raw');
    const stream = (client as unknown as { Telemetry(metadata: grpc.Metadata): grpc.ClientDuplexStream<TelemetryCommand, TelemetryCommand> }).Telemetry(metadata);
    const received: TelemetryCommand[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (command: TelemetryCommand) => received.push(command));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    stream.write({ settings: { client_type: 1, publishing: { topics: [{ name: topic, resource_namespace: '' }], max_body_size: 0, validate_message_type: true } } });
    await ended;
    t.same(received.map((command) => [command.status?.code, command.command]), [[Code.UNAUTHORIZED, undefined]]);
  });

  const operator = new Admin({ namesrv: node.namesrv, accessKey: accounts.operator.accessKey, secretKey: accounts.operator.secretKey });
  t.teardown(() => operator.close().catch(() => undefined));
  const lag = await until('the lag of a fresh group', () => operator.groupLag('grpc-acl-count', { topic }));
  t.equal(lag.lag, allowed_sends, 'only the allowed sends were stored');
});
