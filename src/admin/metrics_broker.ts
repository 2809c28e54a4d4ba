import { Counter, Gauge, type Registry } from 'prom-client';
import type { Bound } from './admin_server.js';
import type { AdminSource, GroupLag, StorePositions, TopicTraffic } from './admin_source.js';

/**
 * The broker's series of `/metrics`: per-topic traffic, consumer-group lag and CommitLog
 * positions. Each is registered only when the node's source offers it (a nameserver does
 * not), and read at scrape time, like the actor series: an idle broker costs nothing
 * between scrapes, and a scrape shows the present.
 */
export function registerBrokerMetrics(registry: Registry, source: AdminSource, bounded: Bound): void {
  const { topicTraffic: topic_traffic, heldPulls: held_pulls, groupLags: group_lags, storePositions: store_positions } = source;
  if (topic_traffic !== undefined) registerTopicTraffic(registry, topic_traffic);
  if (held_pulls !== undefined) {
    new Gauge({
      name: 'mq_broker_pulls_held',
      help: 'Pulls held by long polling until their queue grows or their poll time runs out.',
      registers: [registry],
      collect() {
        this.set(held_pulls());
      },
    });
  }
  if (group_lags !== undefined) registerGroupLag(registry, onePerScrape(() => bounded(group_lags(), 'reading the consumer-group lag')));
  if (store_positions !== undefined) registerStorePositions(registry, onePerScrape(() => bounded(store_positions(), 'reading the store positions')));
}

/**
 * prom-client collects every metric of a scrape concurrently: the collectors that read the
 * same thing share one in-flight read, so a scrape reads it once.
 */
function onePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let in_flight: Promise<T> | null = null;
  return () => {
    in_flight ??= read().finally(() => {
      in_flight = null;
    });
    return in_flight;
  };
}

function registerTopicTraffic(registry: Registry, read: () => TopicTraffic[]): void {
  const snapshot = onePerScrape(async () => read());
  // The broker keeps the totals; each counter is rebuilt from them on a scrape.
  const topicCounter = (name: string, help: string, value: (row: TopicTraffic) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['topic'],
      registers: [registry],
      async collect() {
        const rows = await snapshot();
        this.reset();
        for (const row of rows) this.inc({ topic: row.topic }, value(row));
      },
    });
  };
  topicCounter('mq_topic_messages_in_total', 'Messages stored by SEND and SEND_BATCH.', (row) => row.messages_in);
  topicCounter('mq_topic_bytes_in_total', 'Body bytes of the messages stored by SEND and SEND_BATCH.', (row) => row.bytes_in);
  topicCounter('mq_topic_messages_out_total', 'Messages returned by PULL.', (row) => row.messages_out);
  topicCounter('mq_topic_bytes_out_total', 'Body bytes of the messages returned by PULL.', (row) => row.bytes_out);
}

function registerGroupLag(registry: Registry, read: () => Promise<GroupLag[]>): void {
  new Gauge({
    name: 'mq_group_lag_messages',
    help: 'Messages in the queue after the consumer group\'s committed offset.',
    labelNames: ['group', 'topic', 'queue'],
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset(); // a group whose offsets were removed must disappear
      for (const row of rows) this.set({ group: row.group, topic: row.topic, queue: row.queue }, row.lag_messages);
    },
  });
}

function registerStorePositions(registry: Registry, read: () => Promise<StorePositions | undefined>): void {
  const positionGauge = (name: string, help: string, value: (positions: StorePositions) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        // A gauge without labels always has a sample: 0 until the store has opened.
        const positions = await read();
        if (positions !== undefined) this.set(value(positions));
      },
    });
  };
  positionGauge('mq_commitlog_write_offset_bytes', 'CommitLog offset of the end of the last whole record.', (p) => p.write_offset_bytes);
  positionGauge('mq_commitlog_flush_offset_bytes', 'CommitLog offset below which bytes are on disk.', (p) => p.flush_offset_bytes);
  positionGauge('mq_replication_lag_bytes', 'CommitLog bytes written but not yet held by enough in-sync slaves (0 on a slave or a master without slaves).', (p) => p.replication_lag_bytes);
  positionGauge('mq_replication_slaves_connected', 'Slaves connected to this master.', (p) => p.slaves_connected);
  positionGauge('mq_replication_slaves_in_sync', 'Slaves within the in-sync gap of this master.', (p) => p.slaves_in_sync);
}
