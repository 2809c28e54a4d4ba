import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import t, { type Test } from 'tap';
import { AdminServer } from '../../src/admin/admin_server.js';
import type { ActorStats, AdminSource, GroupLag, HealthReport, StorePositions, TopicTraffic } from '../../src/admin/admin_source.js';
import { groupLagsOf, other_lag_label } from '../../src/admin/metrics_group_lag.js';
import { Admin, Consumer, Producer, type ClusterMemberView, type Message, type ReceivedMessage } from '../../src/client/index.js';
import { BrokerTraffic, other_topics_label } from '../../src/server/broker/broker_traffic.js';
import { OffsetStore } from '../../src/storage/offset_store.js';
import { adminGet, type NodeProcess } from '../cli/node_process.js';
import { startStandalone, until } from '../client/client_helpers.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { createHaTopic, startHaCluster } from '../cluster/fixtures/ha_cluster.js';

/**
 * `/metrics` of a real standalone node, parsed by a Prometheus text parser (not by this
 * project's own code): the broker's series exist, and move by exactly the messages and body
 * bytes sent and received; a consumer group's lag is what it has not consumed, and goes to
 * 0 once it has; a master's replication lag is what its frozen slave has not copied.
 * Before that, the bounded parts alone: the `_other_` totals past the limits, and the
 * series of a fake source as the parser reads them.
 */

/** What parse-prometheus-text-format returns (it ships no types). */
interface MetricFamily {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}
const parsePrometheusText = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => MetricFamily[];

const topic = 'MetricsTraffic';
const group = 'metrics-group';
const queues = 4;
const first_sends = 40;
const batch_size = 20;
const later_sends = 13;

/** Bodies of many sizes, so that a byte count off by one message shows. */
function messageOf(index: number): Message & { body: Buffer } {
  return { topic, body: Buffer.alloc(10 + ((index * 37) % 500), index % 251), tag: 'metrics' };
}

class Scrape {
  private readonly families = new Map<string, MetricFamily>();

  constructor(text: string) {
    for (const family of parsePrometheusText(text)) this.families.set(family.name, family);
  }

  type(name: string): string | undefined {
    return this.families.get(name)?.type;
  }

  /** The sample whose labels are exactly `labels`, or undefined when the series is absent. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const wanted = JSON.stringify(Object.entries(labels).sort());
    const metric = this.families.get(name)?.metrics.find((m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()) === wanted);
    return metric?.value === undefined ? undefined : Number(metric.value);
  }

  /** The samples whose labels include `labels`. */
  values(name: string, labels: Record<string, string>): number[] {
    const metrics = this.families.get(name)?.metrics ?? [];
    return metrics.filter((m) => Object.entries(labels).every(([key, value]) => m.labels?.[key] === value)).map((m) => Number(m.value));
  }
}

async function scrape(node: NodeProcess): Promise<Scrape> {
  const response = await adminGet(node, '/metrics');
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}: ${response.body}`);
  return new Scrape(response.body);
}

/** Scrapes until `check` holds (a value, not undefined), within the helpers' bound. */
function scrapeUntil<T>(node: NodeProcess, what: string, check: (scrape: Scrape) => T | undefined): Promise<T> {
  return until(what, async () => check(await scrape(node)));
}

/** A histogram from the raw text: its cumulative buckets (le, count), count and sum. */
function histogramOf(text: string, name: string): { buckets: Array<readonly [string, number]>; count: number; sum: number } {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))].map((match) => [match[1] as string, Number(match[2])] as const);
  return {
    buckets,
    count: Number(new RegExp(`^${name}_count (\\d+)$`, 'm').exec(text)?.[1]),
    sum: Number(new RegExp(`^${name}_sum (\\S+)$`, 'm').exec(text)?.[1]),
  };
}

/** What every histogram must be: cumulative buckets ending in +Inf, which holds the count. */
function checkHistogram(t: Test, text: string, name: string): { count: number; sum: number } {
  t.match(text, new RegExp(`# TYPE ${name} histogram`), `${name} is a histogram`);
  const histogram = histogramOf(text, name);
  t.equal(histogram.buckets.at(-1)?.[0], '+Inf', `${name}: the last bucket is +Inf`);
  t.equal(histogram.buckets.at(-1)?.[1], histogram.count, `${name}: +Inf holds every observation`);
  t.ok(histogram.buckets.every(([, value], index) => index === 0 || value >= (histogram.buckets[index - 1]?.[1] ?? 0)), `${name}: buckets are cumulative`);
  return histogram;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

async function consume(t: Test, namesrv: string, expected: number): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  const consumer = new Consumer({
    namesrv, group, subscriptions: [{ topic }], fromWhere: 'first', instanceName: `metrics-${expected}`,
    logger: { warn: () => undefined }, rebalanceIntervalMs: 200, commitIntervalMs: 200, longPollTimeoutMs: 1_000,
  });
  consumer.onMessage(async (message) => {
    received.push(message);
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  await until(`${expected} messages consumed`, () => (received.length >= expected ? true : undefined));
  // Shutting down commits what was consumed.
  await consumer.shutdown();
  return received;
}

t.test('BrokerTraffic: topics past the limit are counted together under _other_', async (t) => {
  const traffic = new BrokerTraffic(2);
  t.same(traffic.snapshot(), [], 'nothing counted: no rows, not even _other_');
  traffic.stored('A', 1, 10);
  traffic.stored('B', 2, 20);
  traffic.stored('C', 3, 30);
  traffic.returned('D', 4, 40);
  traffic.returned('A', 1, 10);
  traffic.stored('A', 1, 5);
  t.same(traffic.snapshot(), [
    { topic: 'A', messages_in: 2, bytes_in: 15, messages_out: 1, bytes_out: 10 },
    { topic: 'B', messages_in: 2, bytes_in: 20, messages_out: 0, bytes_out: 0 },
    { topic: other_topics_label, messages_in: 3, bytes_in: 30, messages_out: 4, bytes_out: 40 },
  ]);
  const copy = traffic.snapshot()[0] as TopicTraffic;
  copy.messages_in = 1_000;
  t.equal(traffic.snapshot()[0]?.messages_in, 2, 'a snapshot is a copy');
});

t.test('groupLagsOf: queue end minus committed offset; rows past the limit summed under _other_', async (t) => {
  const offsets = new OffsetStore({ path: `${tempDir(t)}/offsets` });
  offsets.commit('g1', 'T', 0, 7);
  offsets.commit('g1', 'T', 1, 10);
  offsets.commit('g2', 'T', 0, 2);
  offsets.commit('g2', 'T', 1, 12); // ahead of what this broker has (a slave behind): 0, not negative
  offsets.commit('g2', 'Gone', 0, 5); // no window here: no series
  const ends = [{ topic: 'T', queue_id: 0, max_offset: 10 }, { topic: 'T', queue_id: 1, max_offset: 11 }];
  t.same(groupLagsOf(offsets, ends), [
    { group: 'g1', topic: 'T', queue: '0', lag_messages: 3 },
    { group: 'g1', topic: 'T', queue: '1', lag_messages: 1 },
    { group: 'g2', topic: 'T', queue: '0', lag_messages: 8 },
    { group: 'g2', topic: 'T', queue: '1', lag_messages: 0 },
  ]);
  t.same(groupLagsOf(offsets, ends, 2), [
    { group: 'g1', topic: 'T', queue: '0', lag_messages: 3 },
    { group: 'g1', topic: 'T', queue: '1', lag_messages: 1 },
    { group: other_lag_label, topic: other_lag_label, queue: other_lag_label, lag_messages: 8 },
  ], 'the lags still add up to the total');
});

/** A broker's admin source whose answers the test sets. */
class FakeBrokerSource implements AdminSource {
  traffic: TopicTraffic[] = [];
  lags: GroupLag[] = [];
  positions: StorePositions | undefined = undefined;
  lag_error: Error | undefined = undefined;
  lag_reads = 0;
  listActors = async (): Promise<ActorStats[]> => [];
  health = async (): Promise<HealthReport> => ({ ok: true });
  topicTraffic = (): TopicTraffic[] => this.traffic;
  held = 0;
  heldPulls = (): number => this.held;
  groupLags = async (): Promise<GroupLag[]> => {
    this.lag_reads++;
    if (this.lag_error !== undefined) throw this.lag_error;
    return this.lags;
  };
  storePositions = async (): Promise<StorePositions | undefined> => this.positions;
}

t.test('broker series of a fake source, as a Prometheus parser reads them', async (t) => {
  const source = new FakeBrokerSource();
  const server = await AdminServer.start({ host: '127.0.0.1', port: 0, source });
  t.teardown(() => server.close());
  const get = async (): Promise<{ status: number; body: string }> => {
    const response = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
    return { status: response.status, body: await response.text() };
  };

  const before = new Scrape((await get()).body);
  t.equal(before.value('mq_commitlog_write_offset_bytes'), 0, 'no store open yet: 0');
  t.same(before.values('mq_topic_messages_in_total', {}), [], 'no traffic: no series');

  source.traffic = [{ topic: 'T', messages_in: 3, bytes_in: 300, messages_out: 2, bytes_out: 200 }, { topic: other_topics_label, messages_in: 1, bytes_in: 5, messages_out: 0, bytes_out: 0 }];
  source.lags = [{ group: 'g', topic: 'T', queue: '0', lag_messages: 1 }, { group: 'g', topic: 'T', queue: '3', lag_messages: 4 }];
  source.positions = { write_offset_bytes: 4096, flush_offset_bytes: 1024, replication_lag_bytes: 512, slaves_connected: 2, slaves_in_sync: 1 };
  source.held = 3;
  const reads_before = source.lag_reads;
  const after = new Scrape((await get()).body);
  t.equal(source.lag_reads - reads_before, 1, 'one scrape reads the lags once');
  t.equal(after.value('mq_topic_messages_in_total', { topic: 'T' }), 3);
  t.equal(after.value('mq_topic_bytes_in_total', { topic: 'T' }), 300);
  t.equal(after.value('mq_topic_messages_out_total', { topic: 'T' }), 2);
  t.equal(after.value('mq_topic_bytes_out_total', { topic: 'T' }), 200);
  t.equal(after.value('mq_topic_messages_in_total', { topic: other_topics_label }), 1);
  t.equal(after.value('mq_group_lag_messages', { group: 'g', topic: 'T', queue: '3' }), 4);
  t.equal(after.value('mq_commitlog_write_offset_bytes'), 4096);
  t.equal(after.value('mq_commitlog_flush_offset_bytes'), 1024);
  t.equal(after.value('mq_replication_lag_bytes'), 512);
  t.equal(after.value('mq_replication_slaves_connected'), 2);
  t.equal(after.value('mq_replication_slaves_in_sync'), 1);
  t.equal(after.value('mq_broker_pulls_held'), 3);

  source.lags = [{ group: 'g', topic: 'T', queue: '0', lag_messages: 0 }];
  const later = new Scrape((await get()).body);
  t.equal(later.value('mq_group_lag_messages', { group: 'g', topic: 'T', queue: '3' }), undefined, 'a lag row gone from the source is gone from the scrape');

  source.lag_error = new Error('the offset store did not answer');
  const failed = await get();
  t.equal(failed.status, 503, 'a lag that cannot be read fails the scrape rather than hide it');
  t.match(failed.body, /the offset store did not answer/);
});

t.test('a standalone node: topic traffic, group lag and store positions in /metrics', async (t) => {
  const { node, namesrv } = await startStandalone(t);
  const admin = new Admin({ namesrv });
  const producer = new Producer({ namesrv, group: 'metrics-producer' });
  await producer.start();
  t.teardown(async () => {
    await producer.shutdown();
    await admin.close();
  });
  await admin.createTopic({ topic, queues });

  const idle = await scrape(node);
  for (const name of ['mq_topic_messages_in_total', 'mq_topic_bytes_in_total', 'mq_topic_messages_out_total', 'mq_topic_bytes_out_total']) {
    t.equal(idle.type(name), 'COUNTER', `${name} is a counter`);
  }
  for (const name of ['mq_group_lag_messages', 'mq_commitlog_write_offset_bytes', 'mq_commitlog_flush_offset_bytes', 'mq_replication_lag_bytes', 'mq_broker_pulls_held']) {
    t.equal(idle.type(name), 'GAUGE', `${name} is a gauge`);
  }
  t.equal(idle.value('mq_topic_messages_in_total', { topic }), undefined, 'no traffic yet: no series for the topic');
  t.same(idle.values('mq_group_lag_messages', { group }), [], 'no offsets committed yet: no lag series');
  t.equal(idle.value('mq_replication_lag_bytes'), 0, 'a master without slaves has no replication lag');
  // Every worker thread (the node runs two) reports its heap and event-loop delay.
  for (const thread of ['1', '2']) {
    t.ok((idle.value('mq_worker_heap_used_bytes', { thread }) ?? 0) > 0, `thread ${thread}: heap in use`);
    t.ok((idle.value('mq_worker_heap_total_bytes', { thread }) ?? 0) >= (idle.value('mq_worker_heap_used_bytes', { thread }) ?? Infinity), `thread ${thread}: heap allocated ≥ in use`);
    const [p50, p99, max] = ['0.5', '0.99', '1'].map((quantile) => idle.value('mq_worker_event_loop_delay_seconds', { thread, quantile }) ?? -1);
    t.ok((p50 as number) >= 0 && (p50 as number) <= (p99 as number) && (p99 as number) <= (max as number), `thread ${thread}: event-loop delay 0 ≤ p50 ${p50} ≤ p99 ${p99} ≤ max ${max}`);
  }
  const write_offset_before = idle.value('mq_commitlog_write_offset_bytes') ?? -1;
  t.ok(write_offset_before >= 0, 'the write offset has a sample');

  await t.test('sends: messages and body bytes in, the CommitLog moves', async (t) => {
    const singles = Array.from({ length: first_sends - batch_size }, (_, index) => messageOf(index));
    const batch = Array.from({ length: batch_size }, (_, index) => messageOf(first_sends - batch_size + index));
    for (const message of singles) await producer.send(message);
    await producer.sendBatch(batch); // SEND_BATCH counts too
    const bytes = sum([...singles, ...batch].map((message) => message.body.length));
    // Counted before the broker answers: the first scrape after the sends shows them all.
    const after = await scrape(node);
    t.equal(after.value('mq_topic_messages_in_total', { topic }), first_sends, 'messages in');
    t.equal(after.value('mq_topic_bytes_in_total', { topic }), bytes, 'body bytes in');
    t.equal(after.value('mq_topic_messages_out_total', { topic }), 0, 'nothing pulled yet');
    t.ok((after.value('mq_commitlog_write_offset_bytes') ?? 0) >= write_offset_before + bytes, 'the write offset moved by at least the bodies');
    // Async flush runs every 500 ms: the flush offset catches up with the write offset.
    const write_offset = after.value('mq_commitlog_write_offset_bytes') as number;
    await scrapeUntil(node, 'flush offset reaches the write offset', (s) => ((s.value('mq_commitlog_flush_offset_bytes') ?? 0) >= write_offset ? true : undefined));

    // Those flushes are in the flush latency histogram.
    const flushes = checkHistogram(t, (await adminGet(node, '/metrics')).body, 'mq_flush_latency_seconds');
    t.ok(flushes.count >= 1, `${flushes.count} flushes counted`);
    t.ok(flushes.sum > 0, `their summed time: ${flushes.sum} s`);
  });

  await t.test('a group consumes everything: messages and bytes out, lag 0 on every queue', async (t) => {
    const received = await consume(t, namesrv, first_sends);
    t.equal(received.length, first_sends, 'the consumer got each message once');
    const bytes = sum(received.map((message) => message.body.length));
    const after = await scrape(node);
    t.equal(after.value('mq_topic_messages_out_total', { topic }), first_sends, 'messages out');
    t.equal(after.value('mq_topic_bytes_out_total', { topic }), bytes, 'body bytes out');
    const lags = after.values('mq_group_lag_messages', { group, topic });
    t.equal(lags.length, queues, 'one lag series per queue the group committed');
    t.same(lags, [0, 0, 0, 0], 'nothing left to consume');
  });

  await t.test('later sends show as lag, and it goes back to 0 once consumed', async (t) => {
    // The consumer that left may still have pulls held at the broker (until their 1 s long
    // poll ends); answered after new sends, they would read messages for no one.
    await scrapeUntil(node, 'no pull held', (s) => (s.value('mq_broker_pulls_held') === 0 ? true : undefined));
    const later = Array.from({ length: later_sends }, (_, index) => messageOf(first_sends + index));
    for (const message of later) await producer.send(message);
    // A send is answered a moment before its queue's end is published to readers.
    const lag = await scrapeUntil(node, `lag of ${later_sends}`, (s) => {
      const total = sum(s.values('mq_group_lag_messages', { group, topic }));
      return total === later_sends ? total : undefined;
    });
    t.equal(lag, later_sends, 'the lag is exactly what the group has not consumed');
    const in_now = await scrape(node);
    t.equal(in_now.value('mq_topic_messages_in_total', { topic }), first_sends + later_sends, 'messages in, all sends');

    await consume(t, namesrv, later_sends);
    const done = await scrapeUntil(node, 'lag back to 0', (s) => (sum(s.values('mq_group_lag_messages', { group, topic })) === 0 ? s : undefined));
    t.equal(done.value('mq_topic_messages_out_total', { topic }), first_sends + later_sends, 'messages out: each message once');
    t.equal(done.value('mq_topic_bytes_out_total', { topic }), sum([...Array(first_sends + later_sends).keys()].map((index) => messageOf(index).body.length)), 'body bytes out: all bodies once');
  });
});

/**
 * Waits until every thread of `pid` is stopped. SIGSTOP stops a process's threads one by one
 * (the thread that takes the signal stops the others): on a loaded machine the replicator's
 * thread can still acknowledge a few records after kill() returned.
 */
async function untilStopped(pid: number): Promise<void> {
  const task_dir = `/proc/${pid}/task`;
  await until(`every thread of process ${pid} stopped`, () => {
    const states = readdirSync(task_dir).map((task) => {
      const stat = readFileSync(`${task_dir}/${task}/stat`, 'latin1');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3); // the field after "(comm)"
    });
    return states.every((state) => state === 'T' || state === 't') ? true : undefined;
  });
}

t.test('a master and a slave: replication lag is what the frozen slave has not copied, then 0 (in /metrics and in the cluster view)', async (t) => {
  const cluster = await startHaCluster(t);
  const admin = new Admin({ namesrv: cluster.namesrv });
  t.teardown(() => admin.close());
  const members = async (): Promise<{ master: ClusterMemberView; slave: ClusterMemberView } | undefined> => {
    const group = (await admin.cluster()).groups.find((entry) => entry.brokerName === 'ha-group');
    const master = group?.members.find((member) => member.brokerId === 0);
    const slave = group?.members.find((member) => member.brokerId === 1);
    return master === undefined || slave === undefined ? undefined : { master, slave };
  };
  const ha_topic = 'MetricsReplication';
  await createHaTopic(t, cluster.namesrv, ha_topic, 2);
  const producer = new Producer({ namesrv: cluster.namesrv, group: 'metrics-ha-producer' });
  await producer.start();
  t.teardown(() => producer.shutdown());
  for (let index = 0; index < 5; index++) await producer.send({ ...messageOf(index), topic: ha_topic });

  const caught_up = await scrapeUntil(cluster.master.node, 'the slave connected and caught up', (s) =>
    s.value('mq_replication_slaves_connected') === 1 && s.value('mq_replication_lag_bytes') === 0 && (s.value('mq_commitlog_write_offset_bytes') ?? 0) > 0 ? s : undefined);
  const write_offset_before = caught_up.value('mq_commitlog_write_offset_bytes') as number;

  // A stopped process keeps its socket open and acknowledges nothing; the master drops a
  // slave only after 5 s of silence, far longer than the sends and the scrape below.
  process.kill(cluster.slave.node.pid, 'SIGSTOP');
  let frozen = true;
  const thaw = (): void => {
    if (frozen) process.kill(cluster.slave.node.pid, 'SIGCONT');
    frozen = false;
  };
  t.teardown(thaw);
  await untilStopped(cluster.slave.node.pid);
  const later = Array.from({ length: 10 }, (_, index) => messageOf(100 + index));
  for (const message of later) await producer.send({ ...message, topic: ha_topic });
  const behind = await scrape(cluster.master.node);
  const frozen_write_offset = behind.value('mq_commitlog_write_offset_bytes') as number;
  // The master reports its end every 200 ms; the frozen slave reports nothing.
  const seen_behind = await until('the nameserver heard the master write past the frozen slave', async () => {
    const seen = await members();
    return seen !== undefined && seen.master.maxOffset === frozen_write_offset ? seen : undefined;
  });
  thaw();
  t.equal(seen_behind.master.replicationLagBytes, 0, 'a master is 0 bytes behind');
  t.ok(seen_behind.slave.maxOffset <= write_offset_before, `the frozen slave last reported ${seen_behind.slave.maxOffset}, no more than it held when it froze (${write_offset_before})`);
  t.equal(seen_behind.slave.replicationLagBytes, frozen_write_offset - seen_behind.slave.maxOffset, 'its lag in the cluster view: the master\'s end less its own');
  t.ok((seen_behind.slave.replicationLagBytes ?? 0) >= frozen_write_offset - write_offset_before, 'at least every byte written while it was frozen');
  const write_offset = frozen_write_offset;
  t.ok(write_offset - write_offset_before > sum(later.map((message) => message.body.length)), 'the master wrote the bodies and their headers');
  t.equal(behind.value('mq_replication_slaves_connected'), 1, 'the frozen slave is still connected');
  t.equal(behind.value('mq_replication_lag_bytes'), write_offset - write_offset_before, 'the lag is every byte written since the slave froze');

  const master = await scrapeUntil(cluster.master.node, 'replication lag back to 0', (s) => (s.value('mq_replication_lag_bytes') === 0 ? s : undefined));
  const master_write_offset = master.value('mq_commitlog_write_offset_bytes') as number;
  const slave = await scrapeUntil(cluster.slave.node, 'the slave holds what the master wrote', (s) => (s.value('mq_commitlog_write_offset_bytes') === master_write_offset ? s : undefined));
  t.equal(slave.value('mq_replication_lag_bytes'), 0, 'a slave shows no replication lag of its own');
  const caught_up_view = await until('the cluster view shows the slave caught up and in sync', async () => {
    const seen = await members();
    return seen !== undefined && seen.slave.maxOffset === master_write_offset && seen.master.maxOffset === master_write_offset && seen.slave.inSync ? seen : undefined;
  });
  t.equal(caught_up_view.slave.replicationLagBytes, 0, 'caught up: 0 bytes behind');
  t.equal(caught_up_view.master.inSync, false, 'in sync is said of slaves only');
  t.equal(slave.value('mq_replication_slaves_connected'), 0, 'nor slaves');
  t.equal(slave.value('mq_topic_messages_in_total', { topic: ha_topic }), undefined, 'copied bytes are not sends: no traffic on the slave');

  // The master observed the lag at each acknowledgement that moved its replicated offset;
  // the thawed slave's catch-up left it at most the frozen writes behind.
  const acks = checkHistogram(t, (await adminGet(cluster.master.node, '/metrics')).body, 'mq_replication_ack_lag_bytes');
  t.ok(acks.count >= 1, `${acks.count} acknowledgements observed`);
  t.ok(acks.sum >= 0 && acks.sum <= acks.count * (write_offset - write_offset_before), 'none further behind than the frozen writes');
});
