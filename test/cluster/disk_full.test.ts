import { closeSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Admin, Consumer, MqError, parseMessageId, Producer, type ReceivedMessage } from '../../src/client/index.js';
import { adminGet, startNode, type NodeProcess } from '../cli/node_process.js';
import { until } from '../client/client_helpers.js';
import { mountTmpfs, tmpfsUnavailable, type TmpfsMount } from '../helpers/tmpfs_mount.js';
import { patternBody } from '../storage/commit_log_helpers.js';

/**
 * The disk high-water mark end to end, on a real small file system: a standalone node whose
 * --data is a 64 MiB tmpfs, a filler file bringing the tmpfs near the mark, and the SDK.
 * Sends are refused (BROKER_UNAVAILABLE, naming the disk) once the tmpfs passes the mark;
 * the node keeps running; retention deletes the oldest CommitLog segment at its next check;
 * a consumer still reads every acknowledged message that is left, and nothing else, starting
 * where retention cut each queue (the message before is gone, looked up by its id); once the
 * filler is deleted, sends are accepted again and consumed too.
 *
 * Why it is deterministic (the numbers are in `limits`):
 * - A tmpfs counts pages once written, and the broker's pages are of three kinds: the
 *   segment being written (sparse: counted as it fills), the next one, which the segment
 *   allocator pre-touches whole once the current one is half full (counted at once, 1 MiB),
 *   and the ConsumeQueue and key index files (sparse; 20 bytes per message, and no keys are
 *   sent, so the key index stays empty).
 * - The broker measures the disk at most every 500 ms (disk_usage.ts), so it refuses up to
 *   500 ms of appends late. The sends are paced (no bursts) so that 500 ms of them stay far
 *   below the room between the mark and a full tmpfs — where a store into a mapped page
 *   would kill the node with SIGBUS instead of refusing.
 * - Retention checks every 10 s (store.ts; no flag sets it) and takes one segment per check
 *   while the disk is above the mark. A deleted segment frees at most 1 MiB (1.6% of the
 *   tmpfs); the test probes "still refused" within one check of the first deletion, so the
 *   disk stays above the low-water mark (85%) until the filler is deleted.
 */

const mib = 1 << 20;

const limits = {
  tmpfs_bytes: 64 * mib,
  segment_bytes: 1 * mib,
  high_water_percent: 90,
  /** DiskGuard's default low-water mark under a 90% high-water mark. */
  low_water_ratio: 0.85,
  body_bytes: 4_096,
  /** What the filler leaves below the mark for messages: four segments' worth. */
  runway_bytes: 4 * mib,
  /**
   * Pace of the sends. Past the mark there are 64 MiB × 10% = 6.4 MiB before the tmpfs is
   * full. At refusal it holds at most the mark, plus 500 ms of sends (1 MiB at this pace),
   * plus one pre-touched segment (1 MiB), plus a send in flight: a third of that room.
   */
  send_bytes_per_second_max: 2 * mib,
  /** 4 MiB of runway plus the overshoot is ~1,300 sends; these bound a broker that never refuses. */
  fill_sends_max: 4_000,
  fill_timeout_ms: 15_000,
  /** One retention check (10 s) and a margin for a loaded machine. */
  retention_wait_ms: 16_000,
  /** From the unlink until the blocks are given back: the writer's grace (1 s) and a margin. */
  release_wait_ms: 6_000,
  consume_timeout_ms: 15_000,
  /** From deleting the filler until a send is accepted: the next disk measurement (≤ 500 ms) after it. */
  resume_timeout_ms: 10_000,
  resume_poll_ms: 100,
  resume_attempts_max: 200,
  resumed_sends: 20,
  /** A SIGKILLed node's exit, before the tmpfs is unmounted. */
  exit_wait_ms: 10_000,
  queues: 2,
  producer_retries: 1,
} as const;

const topic = 'DiskFull';
const segment_name = /^\d{20}$/;

/** An acknowledged send: its position, its id, and the index its body was made from. */
interface Acked {
  index: number;
  queue_id: number;
  queue_offset: number;
  msg_id: string;
}

/**
 * Holds the sends to a byte rate without bursts: a send waits until the previous ones'
 * bytes have had their time, and time not used is not saved up for later.
 */
class SendPacer {
  private next_ms = performance.now();

  constructor(private readonly bytes_per_second: number) {}

  async take(bytes: number): Promise<void> {
    const now_ms = performance.now();
    const wait_ms = this.next_ms - now_ms;
    this.next_ms = Math.max(this.next_ms, now_ms) + (bytes * 1_000) / this.bytes_per_second;
    if (wait_ms > 0) await new Promise((resolve) => setTimeout(resolve, wait_ms));
  }
}

function body(index: number): Buffer {
  return patternBody(index, limits.body_bytes);
}

/** The index a body was made from (patternBody writes it in the first four bytes). */
function indexOf(message: ReceivedMessage): number {
  return message.body.readUInt32LE(0);
}

function segmentFiles(data_dir: string): string[] {
  return readdirSync(path.join(data_dir, 'commitlog')).filter((name) => segment_name.test(name)).sort();
}

/** Writes `size_bytes` of real bytes (a tmpfs counts written pages, not a sparse size). */
function writeFiller(file: string, size_bytes: number): void {
  const chunk = Buffer.alloc(mib, 0xa5);
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < size_bytes;) written += writeSync(fd, chunk, 0, Math.min(chunk.length, size_bytes - written));
  } finally {
    closeSync(fd);
  }
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

/**
 * What a consumer received of each queue must be a contiguous run of the acknowledged
 * messages ending at the last one acknowledged, in queue order, bytes equal: retention may
 * have taken the oldest, nothing else may be missing, and nothing never acknowledged (a
 * refused send) may appear.
 */
function checkAckedSuffix(t: Test, label: string, acked: readonly Acked[], received: ReadonlyMap<number, ReceivedMessage[]>, never_acked: ReadonlySet<number>): void {
  for (let queue_id = 0; queue_id < limits.queues; queue_id++) {
    const sent = acked.filter((entry) => entry.queue_id === queue_id);
    const got = received.get(queue_id) ?? [];
    const by_offset = new Map(sent.map((entry) => [entry.queue_offset, entry.index]));
    const last_sent = sent[sent.length - 1];
    if (!t.ok(last_sent !== undefined && got.length > 0, `${label}: queue ${queue_id}: sends were acknowledged and some consumed`)) continue;
    let out_of_order = 0;
    let not_acked = 0;
    let wrong_bytes = 0;
    got.forEach((message, position) => {
      const previous = got[position - 1];
      if (previous !== undefined && message.queueOffset !== previous.queueOffset + 1) out_of_order++;
      const index = by_offset.get(message.queueOffset);
      if (index === undefined || never_acked.has(indexOf(message))) not_acked++;
      else if (!message.body.equals(body(index))) wrong_bytes++;
    });
    const first = got[0] as ReceivedMessage;
    t.equal(out_of_order, 0, `${label}: queue ${queue_id}: offsets ${first.queueOffset}..${got[got.length - 1]?.queueOffset} contiguous and in order`);
    t.equal(got[got.length - 1]?.queueOffset, last_sent?.queue_offset, `${label}: queue ${queue_id}: the run ends at the last acknowledged message`);
    t.equal(not_acked, 0, `${label}: queue ${queue_id}: nothing that was not acknowledged`);
    t.equal(wrong_bytes, 0, `${label}: queue ${queue_id}: bytes equal to what was sent`);
  }
}

/**
 * Where each queue's consumed run starts (checkAckedSuffix checks its end): at the first
 * message retention kept. The acknowledged message just before it must be gone — a lookup by
 * its id is answered "not here" by the broker, and its CommitLog offset is below the oldest
 * segment kept — while the first one consumed is still found by its id, bytes equal. So the
 * consumer lost only what retention deleted, not a message more. A queue whose run starts at
 * offset 0 lost nothing: its first message must be found.
 */
async function checkRetentionCut(t: Test, admin: Admin, acked: readonly Acked[], received: ReadonlyMap<number, ReceivedMessage[]>, kept_from_offset: number): Promise<void> {
  for (let queue_id = 0; queue_id < limits.queues; queue_id++) {
    const by_offset = new Map(acked.filter((entry) => entry.queue_id === queue_id).map((entry) => [entry.queue_offset, entry]));
    const first = received.get(queue_id)?.[0];
    const first_acked = first === undefined ? undefined : by_offset.get(first.queueOffset);
    if (!t.ok(first !== undefined && first_acked !== undefined, `queue ${queue_id}: the first message consumed was acknowledged`)) continue;
    const consumed = first as ReceivedMessage;
    const start = first_acked as Acked;
    const found = await admin.getMessage(start.msg_id).catch((error: unknown) => error as MqError);
    if (found instanceof Error) {
      t.fail(`queue ${queue_id}: the first message consumed (offset ${consumed.queueOffset}) is found by its id: ${found.message}`);
    } else {
      t.ok(found.body.equals(body(start.index)) && found.queueOffset === consumed.queueOffset && found.msgId === consumed.msgId, `queue ${queue_id}: the first message consumed (offset ${consumed.queueOffset}) is found by its id, bytes equal`);
    }
    t.ok(parseMessageId(start.msg_id).commitLogOffset >= kept_from_offset, `queue ${queue_id}: ...stored at or after the oldest segment kept (${kept_from_offset})`);
    if (consumed.queueOffset === 0) {
      t.comment(`queue ${queue_id}: consumed from offset 0: retention deleted none of its messages`);
      continue;
    }
    const cut = by_offset.get(consumed.queueOffset - 1);
    if (!t.ok(cut !== undefined, `queue ${queue_id}: offset ${consumed.queueOffset - 1}, before the first consumed, was acknowledged`)) continue;
    const deleted = cut as Acked;
    t.ok(parseMessageId(deleted.msg_id).commitLogOffset < kept_from_offset, `queue ${queue_id}: offset ${deleted.queue_offset} was stored in the deleted segment (below ${kept_from_offset})`);
    const lookup = await admin.getMessage(deleted.msg_id).then(() => undefined, (error: unknown) => error);
    if (!t.ok(lookup instanceof MqError, `queue ${queue_id}: offset ${deleted.queue_offset}, just before the first consumed, is not found by its id (got ${lookup === undefined ? 'the message' : String(lookup)})`)) continue;
    const refusal = lookup as MqError;
    t.equal(refusal.code, 'BAD_REQUEST', `queue ${queue_id}: ...BAD_REQUEST`);
    // The broker answered (it was asked and said "not here"), rather than being unreachable.
    t.match(refusal.message, /no broker of the cluster has message .*: BAD_REQUEST\)/, `queue ${queue_id}: ...the broker holding the log said it has no such message`);
  }
}

const tmpfs_problem = tmpfsUnavailable();

t.test('a full disk refuses sends through the SDK, keeps serving reads, and accepts sends once space is freed', { skip: tmpfs_problem ?? false }, async (t) => {
  // Registered first, so it runs last (tap runs teardowns last-in first-out): after the node is dead.
  const mount: TmpfsMount = mountTmpfs(t, limits.tmpfs_bytes);
  const data_dir = path.join(mount.dir, 'data');
  const filler = path.join(mount.dir, 'filler');
  let node_exited = false;
  let node: NodeProcess | undefined;
  // Runs before the unmount and after startNode's own teardown (which SIGKILLs the node):
  // waits for the exit, so that nothing holds the tmpfs's files when it is unmounted.
  t.teardown(async () => {
    if (node === undefined) return;
    try {
      if (!node_exited) process.kill(node.pid, 'SIGKILL');
    } catch {
      // ESRCH: it exited (reaped) and its stdio is closing; a throw here would skip the unmount.
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([node.exited, new Promise((resolve) => (timer = setTimeout(resolve, limits.exit_wait_ms)))]);
    clearTimeout(timer);
  });

  node = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', data_dir, '--threads', '2', '--heartbeat-interval-ms', '200', '--log-level', 'warn',
    '--commit-log-segment-bytes', String(limits.segment_bytes), '--disk-high-water', String(limits.high_water_percent),
  ]);
  const running = node;
  void running.exited.then(() => {
    node_exited = true;
  });
  const namesrv = running.ready['namesrv'] as string;
  const nodeLog = (): string => running.stderr().slice(-4_000);

  const admin = new Admin({ namesrv });
  t.teardown(() => admin.close().catch(() => undefined));
  await until(`topic ${topic} created`, () => admin.createTopic({ topic, queues: limits.queues }));
  await admin.close();

  const producer = new Producer({ namesrv, retries: limits.producer_retries });
  t.teardown(() => producer.shutdown().catch(() => undefined));
  await producer.start();

  // The filler takes the tmpfs to `runway_bytes` below the mark.
  const before = mount.usage();
  const mark_bytes = (before.usable_bytes * limits.high_water_percent) / 100;
  writeFiller(filler, Math.floor(mark_bytes - before.used_bytes - limits.runway_bytes));
  t.comment(`tmpfs ${percent(mount.usage().used_ratio)} used after the filler; the mark is ${limits.high_water_percent}%`);

  // Fill: paced sends with distinct bodies until one is refused.
  const acked: Acked[] = [];
  const never_acked = new Set<number>();
  let next_index = 0;
  let refusal: unknown;
  const pacer = new SendPacer(limits.send_bytes_per_second_max);
  const fill_deadline_ms = performance.now() + limits.fill_timeout_ms;
  for (let sends = 0; sends < limits.fill_sends_max && performance.now() < fill_deadline_ms; sends++) {
    await pacer.take(limits.body_bytes);
    const index = next_index++;
    try {
      const result = await producer.send({ topic, body: body(index) });
      acked.push({ index, queue_id: result.queueId, queue_offset: result.queueOffset, msg_id: result.msgId });
    } catch (error) {
      never_acked.add(index);
      refusal = error;
      break;
    }
  }
  const refused_at = mount.usage();
  t.comment(`${acked.length} sends acknowledged, then refused at ${percent(refused_at.used_ratio)} used`);
  if (!t.ok(refusal instanceof MqError, `a send is refused with an MqError (got ${String(refusal)})`)) {
    t.comment(`node log: ${nodeLog()}`);
    return;
  }
  const refused = refusal as MqError;
  t.equal(refused.code, 'BROKER_UNAVAILABLE', 'the refusal is BROKER_UNAVAILABLE');
  t.equal(refused.retriable, true, '...retriable (another broker group may have room)');
  t.match(refused.message, new RegExp(`disk [\\d.]+% full, high-water ${limits.high_water_percent}%`), 'the message names the disk and the mark');
  t.match(refused.message, /appends refused, reads continue/, '...and says reads go on');
  // The runway less the pre-touched next segment (1 MiB) and the queues' pages: ~650-770
  // sends here. A quarter of it only shows the filler did not start the node over the mark.
  t.ok(acked.length * limits.body_bytes >= limits.runway_bytes / 4, `the runway was used before the refusal (${acked.length} sends), not refused at once`);
  t.ok(refused_at.used_ratio > limits.low_water_ratio, `the tmpfs is over the low-water mark by our own measure (${percent(refused_at.used_ratio)})`);
  for (let queue_id = 0; queue_id < limits.queues; queue_id++) {
    const offsets = acked.filter((entry) => entry.queue_id === queue_id).map((entry) => entry.queue_offset);
    t.same(offsets, offsets.map((_, position) => position), `queue ${queue_id}: acknowledged offsets are 0..${offsets.length - 1}, no gap for a refused send`);
  }
  t.equal(node_exited, false, 'the node keeps running');
  t.equal((await adminGet(running, '/healthz')).status, 200, '...and answers /healthz');

  // Retention: while refusing, the next check deletes the oldest segment (one per check).
  const segments_before = segmentFiles(data_dir);
  t.ok(segments_before.length >= 3, `the CommitLog spans ${segments_before.length} segments`);
  const oldest = segments_before[0] as string;
  await until('retention deletes the oldest segment under disk pressure', () => (segmentFiles(data_dir).includes(oldest) ? undefined : true), limits.retention_wait_ms);
  const segments_after = segmentFiles(data_dir);
  t.ok(segments_before.slice(1).every((name) => segments_after.includes(name)), `the oldest segment went, the others stayed (${segments_before.length} -> ${segments_after.length})`);

  // Reads continue: a consumer from the first offset gets the acknowledged messages that are left.
  const received = new Map<number, ReceivedMessage[]>(Array.from({ length: limits.queues }, (_, queue_id) => [queue_id, []]));
  const consumer_warnings: string[] = [];
  const consumer = new Consumer({
    namesrv, group: 'disk-full-readers', subscriptions: [{ topic }], fromWhere: 'first', rebalanceIntervalMs: 200,
    logger: { warn: (message) => void (consumer_warnings.length < 100 && consumer_warnings.push(message)) },
  });
  consumer.onMessage(async (message) => {
    received.get(message.queueId)?.push(message);
  });
  t.teardown(() => consumer.shutdown().catch(() => undefined));
  await consumer.start();
  const consumedThrough = (entries: readonly Acked[]) => (): true | undefined => {
    for (let queue_id = 0; queue_id < limits.queues; queue_id++) {
      const last = entries.filter((entry) => entry.queue_id === queue_id).pop();
      const got = received.get(queue_id) ?? [];
      if (last !== undefined && (got[got.length - 1]?.queueOffset ?? -1) < last.queue_offset) return undefined;
    }
    return true;
  };
  await until('the consumer reaches the last acknowledged message of each queue', consumedThrough(acked), limits.consume_timeout_ms);
  checkAckedSuffix(t, 'while refusing', acked, received, never_acked);
  // Right after consuming, well within the next retention check (10 s after the deletion):
  // the log is still cut where the consumer found it.
  const lookup_admin = new Admin({ namesrv });
  t.teardown(() => lookup_admin.close().catch(() => undefined));
  const kept_from_offset = Number(segments_after[0]);
  await checkRetentionCut(t, lookup_admin, acked, received, kept_from_offset);
  t.same(segmentFiles(data_dir), segments_after, 'no further segment was deleted while the cut was checked (else the first consumed may be gone too)');
  await lookup_admin.close();
  const first_offsets = [...received.values()].map((messages) => messages[0]?.queueOffset);
  t.comment(`consumed while refusing from queue offsets ${first_offsets.join(', ')} (earlier ones were in the deleted segment); consumer warnings: ${consumer_warnings.length}`);
  for (const warning of consumer_warnings.slice(0, 4)) t.comment(`consumer: ${warning}`);
  // The broker moves a consumer past the deleted records in one step (the first entry still
  // kept, found by binary search), not one batch at a time.
  const moved = consumer_warnings.filter((warning) => warning.startsWith('offset moved'));
  t.ok(moved.length <= limits.queues, `at most one "offset moved" per queue (${moved.length})`);

  // The deleted segment's disk space comes back a moment after the unlink, though the writer
  // and the reader threads may still map the file (the binding has no munmap, and an idle
  // broker collects nothing): the writer punches a hole through it (MADV_REMOVE).
  const freed_bytes = await until('the deleted segment\'s space is given back', () => {
    const freed = refused_at.used_bytes - mount.usage().used_bytes;
    return freed >= limits.segment_bytes / 2 ? freed : undefined;
  }, limits.release_wait_ms);
  t.ok(freed_bytes >= limits.segment_bytes / 2, `retention freed the deleted segment's space (${(freed_bytes / mib).toFixed(2)} MiB freed)`);

  // Still refusing: the consumption above happened while the disk was full.
  const probe_index = next_index++;
  const probe = await producer.send({ topic, body: body(probe_index) }).then(
    (result) => {
      acked.push({ index: probe_index, queue_id: result.queueId, queue_offset: result.queueOffset, msg_id: result.msgId });
      return undefined;
    },
    (error: unknown) => {
      never_acked.add(probe_index);
      return error as MqError;
    },
  );
  t.equal(probe?.code, 'BROKER_UNAVAILABLE', `still refused after consuming (${percent(mount.usage().used_ratio)} used)`);

  // Free space: sends are accepted again at the next disk measurement below the low-water mark.
  rmSync(filler);
  t.ok(mount.usage().used_ratio < limits.low_water_ratio, `below the low-water mark without the filler (${percent(mount.usage().used_ratio)})`);
  const resume_started_ms = performance.now();
  let resumed = false;
  for (let attempt = 0; attempt < limits.resume_attempts_max && performance.now() - resume_started_ms < limits.resume_timeout_ms; attempt++) {
    const index = next_index++;
    try {
      const result = await producer.send({ topic, body: body(index) });
      acked.push({ index, queue_id: result.queueId, queue_offset: result.queueOffset, msg_id: result.msgId });
      resumed = true;
      break;
    } catch (error) {
      never_acked.add(index);
      if ((error as MqError).code !== 'BROKER_UNAVAILABLE') throw error;
      await new Promise((resolve) => setTimeout(resolve, limits.resume_poll_ms));
    }
  }
  if (!t.ok(resumed, `sends accepted again within ${limits.resume_timeout_ms} ms of freeing space`)) {
    t.comment(`node log: ${nodeLog()}`);
    return;
  }
  t.comment(`accepted again ${Math.round(performance.now() - resume_started_ms)} ms after the filler was deleted`);
  for (let sent = 0; sent < limits.resumed_sends; sent++) {
    const index = next_index++;
    const result = await producer.send({ topic, body: body(index) });
    acked.push({ index, queue_id: result.queueId, queue_offset: result.queueOffset, msg_id: result.msgId });
  }
  await until('the consumer reaches the messages sent after space was freed', consumedThrough(acked), limits.consume_timeout_ms);
  checkAckedSuffix(t, 'after freeing space', acked, received, never_acked);
  t.equal(node_exited, false, 'the node ran throughout');
  await consumer.shutdown();
  await producer.shutdown();
});
