import type { Test } from 'tap';
import * as p from '../../../src/protocol/index.js';
import { ClientConnection } from '../../../src/client/remoting/client_connection.js';
import { type ActorSystem } from '../../../src/runtime/actor_system.js';
import { startActorSystem } from '../../helpers/actor_systems.js';
import { Store } from '../../../src/actors/store/store.js';
import { brokerListener } from '../../../src/server/broker/broker_listener.js';
import { loadConfig, type BrokerConfig } from '../../../src/server/config.js';
import { small_store } from '../../actors/store_helpers.js';

export interface TestBroker {
  address: string;
  store: Store;
  heldPulls(): number;
  client(name?: string): Promise<ClientConnection>;
}

/** A broker in this process (actor system, store, listener) on a free port; stopped at teardown. */
export async function startBroker(t: Test, data_dir: string, extra_flags: string[] = []): Promise<TestBroker> {
  const request = loadConfig(['--role', 'broker', '--namesrv', '127.0.0.1:9', '--port', '0', '--host', '127.0.0.1', '--data', data_dir, '--threads', '2', ...extra_flags], {});
  if (request.action !== 'run') throw new Error('expected a runnable config');
  const config = request.config as BrokerConfig;
  const system = await startActorSystem({ threads: 2 });
  const store = await Store.open(system, { data_dir, ...small_store });
  const listener = brokerListener({ config, store, namesrv_addresses: () => [], ha_address: () => '' });
  const bound = await listener.start();
  const clients: ClientConnection[] = [];
  t.teardown(async () => {
    for (const client of clients) client.close();
    await listener.stop();
    await store.close();
    await system.stop();
  });
  const address = `127.0.0.1:${bound.port}`;
  return {
    address,
    store,
    heldPulls: () => listener.heldPulls(),
    async client(name = 'test-client') {
      const client = await ClientConnection.connect(address, { client_id: name, kind: 'CLIENT' });
      clients.push(client);
      return client;
    },
  };
}

export function sendRequest(topic: string, queueId: number, body: Buffer, extra: Partial<p.SendRequest> = {}): p.SendRequest {
  return {
    topic,
    queueId,
    tag: 'tag-a',
    keys: [],
    properties: {},
    bornTimestamp: Date.now(),
    bornHost: '127.0.0.1:40000',
    flags: 0,
    delayMs: null,
    deliverAtMs: null,
    reconsumeTimes: 0,
    producerGroup: 'test-producers',
    body,
    ...extra,
  };
}

export function pullRequest(topic: string, queueId: number, queueOffset: number, extra: Partial<p.PullRequest> = {}): p.PullRequest {
  return {
    consumerGroup: 'test-consumers',
    topic,
    queueId,
    queueOffset,
    maxCount: 256,
    maxBytes: 4 << 20,
    tagExpression: '*',
    longPollTimeoutMs: 0,
    commitOffset: null,
    ...extra,
  };
}

export async function send(client: ClientConnection, request: p.SendRequest): Promise<p.SendResult> {
  const reply = p.decodeSendResult(await client.request(p.request_codes.SEND, p.encodeSendRequest(request)));
  if (!reply.ok) throw reply.error;
  return reply.value;
}

export async function pull(client: ClientConnection, request: p.PullRequest, timeout_ms = 10_000): Promise<p.PullResponse> {
  const reply = p.decodePullResponse(await client.request(p.request_codes.PULL, p.encodePullRequest(request), { timeout_ms }));
  if (!reply.ok) throw reply.error;
  return reply.value;
}

export async function createTopic(client: ClientConnection, topic: string, queues: number): Promise<void> {
  await client.request(p.request_codes.CREATE_TOPIC, p.encodeCreateTopicRequest({ topic, queues, perm: 0 }));
}
