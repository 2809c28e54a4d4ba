import t, { type Test } from 'tap';
import { Store } from '../../../../src/actors/store/store.js';
import { deadLetterTopicOf, system_properties } from '../../../../src/protocol/index.js';
import { type ActorSystem } from '../../../../src/runtime/actor_system.js';
import type { BrokerContext } from '../../../../src/server/broker/broker_context.js';
import { BrokerTraffic } from '../../../../src/server/broker/broker_traffic.js';
import { ConsumerGroups } from '../../../../src/server/broker/consumer_groups.js';
import { ProducerGroups } from '../../../../src/server/broker/producer_groups.js';
import { PullHold } from '../../../../src/server/broker/pull_hold.js';
import { RetryHandlers } from '../../../../src/server/broker/retry_handlers.js';
import { SendHandlers } from '../../../../src/server/broker/send_handlers.js';
import { TopicConfigStore } from '../../../../src/server/broker/topic_config_store.js';
import { BrokerPopAdapter, deadLetterThroughRetry } from '../../../../src/server/grpc/pop/pop_broker_adapter.js';
import { PopEngine, type ReceivedMessage } from '../../../../src/server/grpc/pop/pop_engine.js';
import { decodeMessageProperties } from '../../../../src/storage/message_properties.js';
import { store_control } from '../../../../src/storage/store_control.js';
import { startActorSystem } from '../../../helpers/actor_systems.js';
import { record, small_store, untilDispatched } from '../../../actors/store_helpers.js';
import { tempDir } from '../../../storage/commit_log_helpers.js';
import { test_holder } from './fake_pop_broker.js';
import { silent_log } from './pop_helpers.js';

/** The pop engine over a real Store through the BrokerContext adapter, across a restart. */

interface RealBroker {
  system: ActorSystem;
  store: Store;
  context: BrokerContext;
  engine: PopEngine;
  stop(): Promise<void>;
}

async function openBroker(t: Test, data_dir: string): Promise<RealBroker> {
  const system = await startActorSystem({ threads: 2 });
  const store = await Store.open(system, { data_dir, ...small_store });
  const log = silent_log;
  const context: BrokerContext = {
    broker_name: 'broker-a',
    store,
    topics: new TopicConfigStore(data_dir, log).load(),
    groups: new ConsumerGroups(),
    producers: new ProducerGroups(),
    pulls: new PullHold(store_control.attach(store.args.control)),
    auto_create_topic: false,
    grpc_address: null,
    default_queues: 4,
    log,
    max_delay_ms: 60_000,
    retry_delays_ms: [1_000],
    onTopicsChanged: () => undefined,
    requireMaster: () => undefined,
  };
  const retry = new RetryHandlers(context, new SendHandlers(context, new BrokerTraffic()));
  const engine = new PopEngine(new BrokerPopAdapter(context, deadLetterThroughRetry(retry)), { log: silent_log });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    engine.close();
    context.pulls.close();
    await store.close();
    await system.stop();
  };
  t.teardown(stop);
  return { system, store, context, engine, stop };
}

function receiveAll(engine: PopEngine, rounds = 50): Promise<ReceivedMessage[]> {
  return (async () => {
    const all: ReceivedMessage[] = [];
    for (let round = 0; round < rounds; round++) {
      const batch = await engine.receive({ group: 'G', topic: 'T', filter: '*', batch_size: 32, invisible_ms: 60_000, long_poll_ms: 0, holder: test_holder });
      if (batch.length === 0) break;
      all.push(...batch);
    }
    return all;
  })();
}

const bodyOf = (queue_id: number, offset: number): string => `message ${queue_id}/${offset}`;

t.test('receive and ack 200 stored messages, dead-letter one, long-poll one; a restart resumes from the committed offsets', async (t) => {
  const dir = tempDir(t);
  const first = await openBroker(t, dir);
  first.context.topics.upsert('T', 4);
  await first.engine.register('G', 'T');
  for (let start = 0; start < 200; start += 50) {
    const batch = Array.from({ length: 50 }, (_, index) => (start + index) % 4).map((queue_id, index) => record('T', queue_id, Buffer.from(bodyOf(queue_id, Math.floor((start + index) / 4)))));
    t.equal((await first.store.append(batch)).status, 'PUT_OK');
  }
  for (let queue_id = 0; queue_id < 4; queue_id++) await untilDispatched(first.store.reader, 'T', queue_id, 50);

  const received = await receiveAll(first.engine);
  t.equal(received.length, 200, 'all 200 received');
  t.ok(received.every((item) => item.message.body.toString() === bodyOf(item.message.queueId, item.message.queueOffset) && item.delivery_attempt === 1), 'bodies as stored, first attempt');
  t.equal(new Set(received.map((item) => item.message.msgId)).size, 200, 'each once');
  // Acked: offsets 0..29 of every queue, and 40..49 of queue 0 (above its lowest unacked, 30).
  let acked = 0;
  for (const item of received) {
    const { queueId, queueOffset } = item.message;
    if (queueOffset < 30 || (queueId === 0 && queueOffset >= 40)) {
      t.equal(first.engine.ack('G', 'T', item.receipt_handle).status, 'ok');
      acked++;
    }
  }
  t.equal(acked, 130);

  // Dead letter through the broker's CONSUMER_SEND_BACK path.
  const doomed = received.find((item) => item.message.queueId === 2 && item.message.queueOffset === 30) as ReceivedMessage;
  t.same(await first.engine.forwardToDeadLetter('G', 'T', doomed.receipt_handle), { status: 'ok' });
  const dlq = deadLetterTopicOf('G');
  t.ok(first.context.topics.get(dlq), `${dlq} created`);
  await untilDispatched(first.store.reader, dlq, 0, 1);
  const [letter] = first.store.reader.pull(dlq, 0, 0, { max_count: 1 }).records;
  t.equal(letter?.body.toString(), bodyOf(2, 30), 'the dead letter holds the message');
  t.equal(decodeMessageProperties(letter?.properties ?? Buffer.alloc(0)).properties[system_properties.origin_message_id], doomed.message.msgId, 'and names it');

  // Long poll through the real PullHold: answered by the store's dispatch of a new message.
  const waiting = first.engine.receive({ group: 'G', topic: 'T', filter: '*', batch_size: 32, invisible_ms: 60_000, long_poll_ms: 10_000, holder: test_holder });
  const started_ms = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(first.context.pulls.size, 1, 'held in the broker\'s PullHold');
  await first.store.append([record('T', 1, Buffer.from(bodyOf(1, 50)))]);
  const [late] = await waiting;
  t.equal(late?.message.body.toString(), bodyOf(1, 50), 'answered with the new message');
  t.ok(Date.now() - started_ms < 5_000, 'well before the poll time');
  t.equal(first.engine.ack('G', 'T', late?.receipt_handle as string).status, 'ok');

  first.engine.flushCommits();
  const committed = await Promise.all([0, 1, 2, 3].map((queue_id) => first.store.offsets.ask({ kind: 'query', group: 'G', topic: 'T', queue_id })));
  t.same(committed, [30, 30, 31, 30], 'committed: the lowest unacked offset of each queue (the dead letter counts as acked)');
  const stale_handle = received.find((item) => item.message.queueId === 3 && item.message.queueOffset === 35)?.receipt_handle as string;
  await first.stop();

  const second = await openBroker(t, dir);
  t.equal(second.engine.ack('G', 'T', stale_handle).status, 'invalid_receipt_handle', 'handles from before the restart are refused');
  await second.engine.register('G', 'T');
  const again = await receiveAll(second.engine);
  const by_queue = [0, 1, 2, 3].map((queue_id) => again.filter((item) => item.message.queueId === queue_id).map((item) => item.message.queueOffset));
  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, index) => from + index);
  t.same(by_queue[0], range(30, 50), 'queue 0 from 30: 40..49 were acked above the committed offset and come again (at least once)');
  t.same(by_queue[1], range(30, 51), 'queue 1 from 30, with the long-polled one (acked above the committed offset)');
  t.same(by_queue[2], range(31, 50), 'queue 2 from 31: the dead letter is not delivered again');
  t.same(by_queue[3], range(30, 50), 'queue 3 from 30');
  t.ok(again.every((item) => item.delivery_attempt === 1), 'attempts are not persisted: 1 again');
  for (const item of again) second.engine.ack('G', 'T', item.receipt_handle);
  second.engine.flushCommits();
  const ends = await Promise.all([0, 1, 2, 3].map((queue_id) => second.store.offsets.ask({ kind: 'query', group: 'G', topic: 'T', queue_id })));
  t.same(ends, [50, 51, 50, 50], 'all acked: committed at the ends');
});
