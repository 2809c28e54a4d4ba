import type { Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { TransactionProducer, type TransactionProducerOptions } from '../../src/client/index.js';
import { MqError } from '../../src/runtime/errors.js';
import type { RequestHandler } from '../../src/server/remoting/request_router.js';
import { routeData, startFakeServer, until, type FakeServer } from './client_helpers.js';
import { storedMessage } from './fixtures/stored_messages.js';

/**
 * A fake cluster for TransactionProducer tests, all in this process: a nameserver answering
 * GET_ROUTE and GET_CLUSTER_INFO, and brokers that record HEARTBEAT, SEND and END_TRANSACTION
 * requests, answer them as the test scripts, and push CHECK_TRANSACTION_STATE on demand.
 */

export interface FakeTxBroker extends FakeServer {
  name: string;
  heartbeats: p.HeartbeatRequest[];
  sends: p.SendRequest[];
  /** The SendResult of each SEND, in order. */
  stored: p.SendResult[];
  ends: p.EndTransactionRequest[];
  /** The answer to the next SEND (default SEND_OK), or a thrown error. */
  sendAnswer: () => p.SendStatus | MqError;
  /** END_TRANSACTION's handler: the default answers by outcome. */
  endAnswer: (request: p.EndTransactionRequest) => Promise<p.EndTransactionResult> | p.EndTransactionResult;
  /** Pushes CHECK_TRANSACTION_STATE on every connection the broker has; how many took it. */
  pushCheck(request: Partial<p.CheckTransactionStateRequest>): number;
}

export interface FakeTxCluster {
  namesrv: FakeServer;
  a: FakeTxBroker;
  b: FakeTxBroker;
  /** A slave of broker-a: in the cluster info, never a master. */
  slave: FakeTxBroker;
}

/** Topic 'T' is on broker-a and broker-b (2 queues each); topic 'OnlyA' on broker-a only. */
export async function fakeTxCluster(t: Test): Promise<FakeTxCluster> {
  const a = await fakeTxBroker(t, 'broker-a', 1_000_000);
  const b = await fakeTxBroker(t, 'broker-b', 2_000_000);
  const slave = await fakeTxBroker(t, 'broker-a', 3_000_000);
  const namesrv = await startFakeServer(t, new Map<number, RequestHandler>([
    [p.request_codes.GET_ROUTE, (body) => {
      const request = p.decodeGetRouteRequest(body);
      if (!request.ok) throw new Error(request.error.message);
      if (request.value.topic === 'T') return p.encodeTopicRouteData(routeData('T', new Map([['broker-a', a.address], ['broker-b', b.address]]), 2));
      if (request.value.topic === 'OnlyA') return p.encodeTopicRouteData(routeData('OnlyA', new Map([['broker-a', a.address]]), 2));
      throw new MqError('TOPIC_NOT_FOUND', `no topic ${request.value.topic}`);
    }],
    [p.request_codes.GET_CLUSTER_INFO, (_body, { connection }) => p.encodeClusterInfo({
      dataVersion: 1,
      groups: [
        { cluster: 'C', brokerName: 'broker-a', members: [member(0, a.address), member(1, slave.address)] },
        { cluster: 'C', brokerName: 'broker-b', members: [member(0, b.address)] },
      ],
    }, connection.protocol_version)],
  ]));
  return { namesrv, a, b, slave };
}

function member(brokerId: number, address: string): p.BrokerMemberInfo {
  return { brokerId, address, haAddress: address, epoch: 1, dataVersion: 1, lastHeartbeatMs: 1_700_000_000_000, maxOffset: 0, inSync: false };
}

const end_results: Record<p.TransactionOutcome, p.EndTransactionResult> = { COMMIT: 'COMMITTED', ROLLBACK: 'ROLLED_BACK', UNKNOWN: 'UNDECIDED' };

async function fakeTxBroker(t: Test, name: string, offset_base: number): Promise<FakeTxBroker> {
  const broker = {
    name,
    heartbeats: [] as p.HeartbeatRequest[],
    sends: [] as p.SendRequest[],
    stored: [] as p.SendResult[],
    ends: [] as p.EndTransactionRequest[],
    sendAnswer: (): p.SendStatus | MqError => 'SEND_OK',
    endAnswer: (request: p.EndTransactionRequest): p.EndTransactionResult => end_results[request.outcome],
  };
  const server = await startFakeServer(t, new Map<number, RequestHandler>([
    [p.request_codes.HEARTBEAT, (body, { connection }) => {
      const request = p.decodeHeartbeatRequest(body, connection.protocol_version);
      if (!request.ok) throw new Error(request.error.message);
      broker.heartbeats.push(request.value);
      return p.encodeHeartbeatResponse({});
    }],
    [p.request_codes.SEND, (body) => {
      const request = p.decodeSendRequest(body);
      if (!request.ok) throw new Error(request.error.message);
      broker.sends.push({ ...request.value, body: Buffer.from(request.value.body) });
      const answer = broker.sendAnswer();
      if (answer instanceof MqError) throw answer;
      const commitLogOffset = offset_base + broker.stored.length * 100;
      const result: p.SendResult = {
        status: answer,
        msgId: `${name === 'broker-a' ? 'AA' : 'BB'}${String(commitLogOffset).padStart(38, '0')}`,
        brokerName: name,
        queueId: request.value.queueId,
        queueOffset: -1,
        commitLogOffset,
      };
      broker.stored.push(result);
      return p.encodeSendResult(result);
    }],
    [p.request_codes.END_TRANSACTION, async (body) => {
      const request = p.decodeEndTransactionRequest(body);
      if (!request.ok) throw new Error(request.error.message);
      broker.ends.push({ ...request.value });
      return p.encodeEndTransactionResponse({ result: await fake.endAnswer(request.value) });
    }],
  ]));
  const fake: FakeTxBroker = Object.assign(broker, server, {
    pushCheck(fields: Partial<p.CheckTransactionStateRequest>): number {
      const request: p.CheckTransactionStateRequest = {
        producerGroup: 'TG',
        commitLogOffset: 42,
        msgId: 'CC00000000000000000000000000000000000042',
        message: storedMessage('T', 0, 0),
        checkTimes: 1,
        ...fields,
      };
      let pushed = 0;
      for (const connection of server.connections) if (connection.push(p.request_codes.CHECK_TRANSACTION_STATE, p.encodeCheckTransactionStateRequest(request))) pushed += 1;
      return pushed;
    },
  });
  return fake;
}

let instances = 0;

/** A started TransactionProducer of group TG on `cluster` (its own instance name), shut down at teardown. */
export async function startTxProducer(t: Test, cluster: FakeTxCluster, options: Partial<TransactionProducerOptions> = {}): Promise<{ tp: TransactionProducer; warnings: string[] }> {
  const warnings: string[] = [];
  const tp = new TransactionProducer({
    namesrv: cluster.namesrv.address,
    group: 'TG',
    instanceName: `tx-test-${process.pid}-${++instances}`,
    check: async () => 'COMMIT',
    logger: { warn: (message) => warnings.push(message) },
    ...options,
  });
  t.teardown(() => tp.shutdown());
  await tp.start();
  return { tp, warnings };
}

/** Waits (bounded) until `broker` has `count` END_TRANSACTION requests; returns them. */
export function endsOf(broker: FakeTxBroker, count: number): Promise<p.EndTransactionRequest[]> {
  return until(`${count} END_TRANSACTION at ${broker.name}`, () => (broker.ends.length >= count ? broker.ends.slice(0, count) : undefined));
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((yes) => {
    resolve = yes;
  });
  return { promise, resolve };
}
