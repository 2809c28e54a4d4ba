/**
 * Slow readers at a live standalone node (a child process): a client that asks for large
 * replies again and again and never reads them. The node must drop it at its write-buffer
 * bound, say so once in the log, keep its memory bounded, and go on serving a normal client.
 * On the broker the large replies are pulls (8 MiB each); on the nameserver, topic lists of
 * a fake broker group registered with thousands of long topic names.
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { Admin } from '../../src/client/admin.js';
import { Producer } from '../../src/client/producer.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { server_connection_limits } from '../../src/server/remoting/remoting_limits.js';
import { startNode, type NodeProcess } from '../cli/node_process.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { residentBytes, sleep } from './process_probes.js';

const slow_reader_limits = {
  /** Bursts at most; a burst goes out every burst_interval_ms. Pulls per burst are few
   *  because each costs the node a read of up to 8 MiB (CRC-checked) whether or not its
   *  reply then fits the connection's budget; topic lists are cheap to ask for. */
  pulls_per_burst: 16,
  /** The first burst is large: read in one go, its replies all start before one is written
   *  (without the reply budget, 100 x 7 MiB = 700 MiB at once). */
  pulls_first_burst: 100,
  topic_lists_per_burst: 50,
  bursts_max: 100,
  burst_interval_ms: 50,
  /** What the node may gain in resident memory while a slow reader is served: its write
   *  buffer (64 MiB), the replies being built (32 MiB) and the mapped data the pulls read,
   *  with room to spare. Without the reply budget the first burst alone took ~800 MiB. */
  rss_growth_bytes_max: 256 << 20,
  rss_sample_interval_ms: 25,
} as const;

interface SlowReaderRun {
  dropped: boolean;
  bursts: number;
  rss_peak: number;
}

/**
 * Connects, says HELLO and then writes bursts of `request` (never reading a byte) until the
 * node drops the connection or the bursts run out. Samples the node's memory meanwhile.
 */
async function slowReader(t: Test, node: NodeProcess, address: string, request: [number, Buffer], per_burst: number, first_burst = per_burst): Promise<SlowReaderRun> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  t.teardown(() => socket.destroy());
  socket.pause(); // never reads; a reset still arrives as an error
  socket.on('error', () => undefined);
  let dropped = false;
  socket.on('close', () => (dropped = true));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(p.encodeFrame(p.requestEnvelope(p.request_codes.HELLO, 1, p.encodeHello(p.helloFor('slow-reader', 'CLIENT')))));
  const [code, body] = request;
  let rss_peak = residentBytes(node.pid);
  const sampler = setInterval(() => (rss_peak = Math.max(rss_peak, residentBytes(node.pid))), slow_reader_limits.rss_sample_interval_ms);
  let bursts = 0;
  let next_id = 2;
  try {
    for (; bursts < slow_reader_limits.bursts_max && !dropped; bursts++) {
      socket.write(Buffer.concat(Array.from({ length: bursts === 0 ? first_burst : per_burst }, () => p.encodeFrame(p.requestEnvelope(code, next_id++, body)))));
      await sleep(slow_reader_limits.burst_interval_ms);
    }
  } finally {
    clearInterval(sampler);
  }
  return { dropped, bursts, rss_peak: Math.max(rss_peak, residentBytes(node.pid)) };
}

const droppedLines = (node: NodeProcess, component: string): number =>
  node.stderr().split('\n').filter((line) => line.includes('peer does not read its replies') && line.includes(`"component":"${component}"`)).length;

t.test('a slow reader is dropped at the write-buffer bound with its memory bounded; the normal client goes on', async (t) => {
  const node = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', tempDir(t), '--threads', '2', '--log-level', 'warn',
  ]);
  const namesrv = node.ready['namesrv'] as string;
  const broker = node.ready['broker'] as string;
  const admin = new Admin({ namesrv });
  t.teardown(() => admin.close());
  await admin.createTopic({ topic: 'SlowBig', queues: 1 });
  const producer = new Producer({ namesrv, instanceName: 'slow-normal' });
  t.teardown(() => producer.shutdown());
  await producer.start();
  const big_body = Buffer.alloc(1 << 20, 3);
  for (let i = 0; i < 12; i++) await producer.send({ topic: 'SlowBig', body: big_body });
  const puller = await ClientConnection.connect(broker, { client_id: 'slow-normal-puller', kind: 'CLIENT' });
  t.teardown(() => puller.close());
  const pull_request = p.encodePullRequest({
    consumerGroup: '', topic: 'SlowBig', queueId: 0, queueOffset: 0, maxCount: 1_024, maxBytes: 8 << 20, tagExpression: '*', longPollTimeoutMs: 0, commitOffset: null,
  });
  const pullCount = async (): Promise<number> => {
    const reply = p.decodePullResponse(await puller.request(p.request_codes.PULL, pull_request, { timeout_ms: 10_000 }));
    return reply.ok ? reply.value.messages.length : -1;
  };
  // 1 MiB bodies: 7 fit the 8 MiB of a pull (a record is a little more than its body).
  const full = await pullCount();
  t.equal(full, 7, 'a normal pull gets 7 MiB (and maps what the slow reader will ask for)');

  // The normal producer works the whole time.
  let stop = false;
  let normal_sent = 0;
  let normal_errors = 0;
  const normal = (async () => {
    while (!stop) {
      await producer.send({ topic: 'SlowNormal', body: `normal ${normal_sent}` }).then(() => normal_sent++, () => normal_errors++);
      await sleep(10);
    }
  })();

  const broker_before = residentBytes(node.pid);
  const on_broker = await slowReader(t, node, broker, [p.request_codes.PULL, pull_request], slow_reader_limits.pulls_per_burst, slow_reader_limits.pulls_first_burst);
  t.ok(on_broker.dropped, `broker: the slow reader was dropped after ${on_broker.bursts} bursts of pulls of 7 MiB (${slow_reader_limits.pulls_first_burst}, then ${slow_reader_limits.pulls_per_burst} each)`);
  t.equal(droppedLines(node, 'broker'), 1, 'broker: logged once');
  const broker_growth = on_broker.rss_peak - broker_before;
  t.ok(broker_growth < slow_reader_limits.rss_growth_bytes_max, `broker: the node's memory grew ${Math.round(broker_growth / 2 ** 20)} MiB at the peak (bound ${slow_reader_limits.rss_growth_bytes_max >> 20} MiB; write buffer ${server_connection_limits.write_buffer_bytes_max >> 20} MiB)`);
  t.equal(await pullCount(), full, 'broker: a normal pull is still served in full');

  // Nameserver: a fake broker group with many long topic names makes each topic list ~0.25 MiB.
  // It stays registered while its connection is open.
  const registrar = await ClientConnection.connect(namesrv, { client_id: 'slow-fake-broker', kind: 'BROKER' });
  t.teardown(() => registrar.close());
  const topics = Array.from({ length: 2_000 }, (_, i) => ({ topic: `SlowFake_${String(i).padStart(6, '0')}_${'x'.repeat(100)}`, readQueues: 1, writeQueues: 1, perm: 6 }));
  await registrar.request(p.request_codes.REGISTER_BROKER, p.encodeRegisterBrokerRequest({
    cluster: 'SlowFakeCluster', brokerName: 'slow-fake', brokerId: 0, address: '127.0.0.1:1', haAddress: '', epoch: 0, dataVersion: 1, topics, maxOffset: 0, inSyncSlaves: [],
  }));
  const list_request = p.encodeGetTopicListRequest({ cluster: 'SlowFakeCluster' });
  const list = p.decodeTopicList(await registrar.request(p.request_codes.GET_TOPIC_LIST, list_request));
  t.equal(list.ok ? list.value.topics.length : -1, topics.length, 'the nameserver lists the fake group\'s topics');

  const namesrv_before = residentBytes(node.pid);
  const on_namesrv = await slowReader(t, node, namesrv, [p.request_codes.GET_TOPIC_LIST, list_request], slow_reader_limits.topic_lists_per_burst);
  t.ok(on_namesrv.dropped, `nameserver: the slow reader was dropped after ${on_namesrv.bursts} bursts of ${slow_reader_limits.topic_lists_per_burst} topic lists`);
  t.equal(droppedLines(node, 'namesrv'), 1, 'nameserver: logged once');
  const namesrv_growth = on_namesrv.rss_peak - namesrv_before;
  t.ok(namesrv_growth < slow_reader_limits.rss_growth_bytes_max, `nameserver: the node's memory grew ${Math.round(namesrv_growth / 2 ** 20)} MiB at the peak (bound ${slow_reader_limits.rss_growth_bytes_max >> 20} MiB)`);

  stop = true;
  await normal;
  t.equal(normal_errors, 0, `the normal producer saw no error (${normal_sent} sends meanwhile)`);
  t.ok(normal_sent > 0, 'and kept sending');
  await producer.send({ topic: 'SlowNormal', body: 'after' });
  registrar.close();
  await producer.shutdown();
  await admin.close();
  t.equal((await node.signal('SIGTERM')).code, 0, 'the node stops cleanly');
});
