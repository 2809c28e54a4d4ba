import t from 'tap';
import { MqError } from '../../src/client/index.js';
import type { Message, SendResult } from '../../src/client/index.js';
import { BenchUsageError, bench_limits, parseBenchArgs } from '../../src/client/bench/bench_options.js';
import { PayloadWriter, readStamp, stamp_bytes, type BenchClock } from '../../src/client/bench/bench_payload.js';
import { ConsumeCounter, not_counted } from '../../src/client/bench/consume_counter.js';
import { DeliveryTracker, delivery_tracker_limits } from '../../src/client/bench/delivery_tracker.js';
import { LatencyHistogram } from '../../src/client/bench/latency_histogram.js';
import { ProduceLoad, type MessageSender, type TickScheduler } from '../../src/client/bench/produce_load.js';
import { ProgressLine, formatProgress } from '../../src/client/bench/progress_line.js';

/** The bench's parts without a broker: flags, the payload stamp, counting, pacing, output. */

class ManualClock implements BenchClock {
  constructor(public now_us = 1_000_000) {}
  nowUs(): number {
    return this.now_us;
  }
}

/** A sender whose sends complete when the test says so. */
class FakeSender implements MessageSender {
  readonly pending: Array<{ message: Message; resolve: () => void; reject: (error: unknown) => void }> = [];
  sent = 0;
  max_pending = 0;
  send(message: Message): Promise<SendResult> {
    return new Promise<SendResult>((resolve, reject) => {
      this.pending.push({ message, resolve: () => resolve({ status: 'SEND_OK', msgId: 'x', brokerName: 'b', queueId: 0, queueOffset: this.sent++ }), reject });
      this.max_pending = Math.max(this.max_pending, this.pending.length);
    });
  }
  ackAll(): number {
    const batch = this.pending.splice(0);
    for (const send of batch) send.resolve();
    return batch.length;
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('flags', async (t) => {
  const produce = parseBenchArgs(['produce', '--topic', 'T'], {});
  t.match(produce, { command: 'produce', json: false, quiet: false, options: { namesrv: '127.0.0.1:9876', topic: 'T', count: bench_limits.count_default, size_bytes: 1024, producers: 1, inflight: bench_limits.inflight_default, rate_per_s: undefined } });
  t.match(parseBenchArgs(['produce', '--topic=T', '--count', '200_000', '--json'], { MQ_NAMESRV: '10.0.0.1:9876' }), { json: true, options: { namesrv: '10.0.0.1:9876', count: 200_000 } });
  t.match(parseBenchArgs(['produce', '--topic', 'T', '--namesrv', 'h:1'], { MQ_NAMESRV: 'e:2' }), { options: { namesrv: 'h:1' } }, 'flag before env');
  t.match(parseBenchArgs(['consume', '--topic', 'T', '--group', 'G'], {}), { options: { count: undefined, from: 'first', idle_ms: bench_limits.idle_ms_default } });
  t.match(parseBenchArgs(['e2e', '--topic', 'T', '--rate', '2000'], {}), { options: { rate_per_s: 2000, group: /^bench_e2e_\d+$/ } });
  t.same(parseBenchArgs([], {}), { command: 'help' });
  t.same(parseBenchArgs(['consume', '--help'], {}), { command: 'help' });
  const bad: Array<[string[], RegExp]> = [
    [['produce', '--topic', 'T', '--count', '1.5'], /--count must be a whole number/],
    [['produce', '--topic', 'T', '--count', '-3'], /--count needs a value|--count must/],
    [['produce', '--topic', 'T', '--producers', String(bench_limits.producers_max + 1)], /--producers must be/],
    [['produce', '--topic', 'T', '--json=yes'], /--json takes no value/],
    [['produce', '--topic', 'T', '--topic', 'U'], /--topic is given twice/],
    [['produce', '--topic', 'T', 'stray'], /unexpected argument "stray"/],
    [['produce', '--topic', '--count', '5'], /--topic needs a value/],
    [['consume', '--topic', 'T', '--group', 'G', '--rate', '5'], /unknown flag --rate for bench consume/],
    [['consume', '--topic', 'T', '--group', 'a b'], /--group: /],
  ];
  for (const [args, message] of bad) t.throws(() => parseBenchArgs(args, {}), { name: 'BenchUsageError', message }, args.join(' '));
  t.ok(new BenchUsageError('x') instanceof Error);
});

t.test('payload stamp', async (t) => {
  const writer = new PayloadWriter(64, 7);
  const body = writer.body(42, 1_700_000_000_123_456.5);
  t.equal(body.length, 64);
  t.same(readStamp(body), { sent_us: 1_700_000_000_123_456.5, run_id: 7, seq: 42 });
  t.equal(body[63], 0x78, 'filler after the stamp');
  t.not(writer.body(1, 0), writer.body(1, 0), 'a fresh buffer per body');
  const short = new PayloadWriter(stamp_bytes - 1, 7).body(1, 5);
  t.equal(short.length, stamp_bytes - 1);
  t.equal(readStamp(short), undefined, 'a body shorter than the stamp carries none');
  t.equal(readStamp(Buffer.alloc(100)), undefined, 'no magic: no stamp');
  const offset = Buffer.concat([Buffer.alloc(3), body]).subarray(3);
  t.same(readStamp(offset), { sent_us: 1_700_000_000_123_456.5, run_id: 7, seq: 42 }, 'a body at an odd offset in its buffer');
});

t.test('delivery tracker', async (t) => {
  const tracker = new DeliveryTracker();
  t.ok(tracker.see({ sent_us: 0, run_id: 1, seq: 0 }));
  t.notOk(tracker.see({ sent_us: 0, run_id: 1, seq: 0 }), 'second delivery is a duplicate');
  t.ok(tracker.see({ sent_us: 0, run_id: 2, seq: 0 }), 'same seq of another run is new');
  t.ok(tracker.see({ sent_us: 0, run_id: 1, seq: 1_000_000 }), 'the bitmap grows');
  t.notOk(tracker.see({ sent_us: 0, run_id: 1, seq: 1_000_000 }));
  t.match(tracker, { unique: 3, duplicates: 2, untracked: 0 });
  t.equal(tracker.uniqueOf(1), 2);
  t.equal(tracker.uniqueOf(3), 0);
  for (let run = 10; run < 10 + delivery_tracker_limits.runs_max; run++) tracker.see({ sent_us: 0, run_id: run, seq: 0 });
  t.equal(tracker.untracked, 2, 'runs beyond runs_max are counted, not tracked');
  tracker.see({ sent_us: 0, run_id: 1, seq: delivery_tracker_limits.seq_max });
  t.equal(tracker.untracked, 3, 'sequence numbers beyond seq_max are not tracked');
});

t.test('latency histogram', async (t) => {
  const histogram = new LatencyHistogram();
  t.equal(histogram.summary(), undefined);
  for (let us = 1; us <= 1_000; us++) histogram.record(us);
  histogram.record(-5);
  const summary = histogram.summary();
  t.equal(summary?.samples, 1_001);
  t.ok(Math.abs((summary?.p50_us ?? 0) - 500) <= 1, `p50 ${summary?.p50_us}`);
  t.ok(Math.abs((summary?.p99_us ?? 0) - 990) <= 1, `p99 ${summary?.p99_us}`);
  t.equal(summary?.max_us, 1_000);
  t.equal(histogram.negative, 1, 'a negative latency is clamped and counted');
  histogram.destroy();
});

t.test('progress line', async (t) => {
  const line = formatProgress({ label: 'produce', done: 50, target: 200, elapsed_ms: 1_000, details: ['failed 0'] });
  t.match(line, /^produce  \[######\.+\]  25%  50\/200  50 msgs\/s  failed 0  1\.0 s$/);
  t.match(formatProgress({ label: 'consume', done: 7, target: undefined, elapsed_ms: 0, details: [] }), /^consume  7  0 msgs\/s  0\.0 s$/);
  const written: string[] = [];
  const tty = new ProgressLine({ write: (text) => written.push(text), is_tty: true }, () => ({ label: 'x', done: 1, target: 2, elapsed_ms: 10, details: [] }), true);
  tty.start();
  // Wait (bounded) for two redraws on the 200 ms terminal tick rather than sleeping and hoping.
  for (let waited = 0; written.length < 2 && waited < 5_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  tty.stop();
  t.ok(written.length >= 2 && written.slice(0, -1).every((text) => text.startsWith('\r') && text.endsWith('\x1b[K')), 'a terminal gets one line redrawn in place');
  t.equal(written.at(-1), '\n', 'and a newline at the end');
  const disabled: string[] = [];
  const quiet = new ProgressLine({ write: (text) => disabled.push(text), is_tty: false }, () => ({ label: 'x', done: 1, target: 2, elapsed_ms: 10, details: [] }), false);
  quiet.start();
  quiet.stop();
  t.same(disabled, []);
});

t.test('produce load, unpaced: the window is kept full and never exceeded, the count split', async (t) => {
  const clock = new ManualClock();
  const senders = [new FakeSender(), new FakeSender()];
  const load = new ProduceLoad(senders, { topic: 'T', count: 101, size_bytes: 32, inflight: 8, rate_per_s: undefined, errors_max: 10, run_id: 9 }, clock);
  const done = load.run();
  let rounds = 0;
  while (senders.some((sender) => sender.pending.length > 0) && rounds++ < 100) {
    clock.now_us += 100;
    for (const sender of senders) sender.ackAll();
    await flush();
  }
  t.equal(await done, 'count');
  t.same(senders.map((sender) => sender.sent), [51, 50], 'the count is split between the lanes');
  t.ok(senders.every((sender) => sender.max_pending <= 8), 'at most inflight per lane');
  t.match(load.stats, { issued: 101, sent: 101, failed: 0 });
  t.equal(load.stats.ack_latency.samples, 101);
  t.equal(load.stats.ack_latency.valueAtPercentileUs(50), 100, 'latency from send to ack');
});

t.test('produce load: stops after errors_max failures', async (t) => {
  const failing: MessageSender = { send: () => Promise.reject(new MqError('BROKER_UNAVAILABLE', 'down')) };
  const load = new ProduceLoad([failing], { topic: 'T', count: 1_000, size_bytes: 32, inflight: 4, rate_per_s: undefined, errors_max: 10, run_id: 1 }, new ManualClock());
  t.equal(await load.run(), 'errors');
  t.ok(load.stats.failed >= 10 && load.stats.failed <= 13, `failed ${load.stats.failed}: stops after errors_max (plus those in flight)`);
  t.same(Object.keys(Object.fromEntries(load.stats.errors)), ['BROKER_UNAVAILABLE']);
  t.match(load.stats.first_error, /^BROKER_UNAVAILABLE: down/);
});

t.test('produce load, paced: sends what is due, stalls when the window is full', async (t) => {
  const clock = new ManualClock();
  const ticks: Array<() => void> = [];
  const scheduler: TickScheduler = { later: (callback) => void ticks.push(callback) };
  const sender = new FakeSender();
  const load = new ProduceLoad([sender], { topic: 'T', count: 10, size_bytes: 32, inflight: 2, rate_per_s: 1_000, errors_max: 10, run_id: 1 }, clock, scheduler);
  const done = load.run();
  t.equal(sender.pending.length, 1, 'the first message goes at once');
  clock.now_us += 5_000; // 5 ms: messages 0..5 are due
  ticks.shift()?.();
  t.equal(sender.pending.length, 2, 'only up to the window');
  t.equal(load.stats.window_stalls, 1);
  let rounds = 0;
  while (ticks.length > 0 && rounds++ < 100) {
    sender.ackAll();
    await flush();
    clock.now_us += 1_000;
    ticks.shift()?.();
  }
  sender.ackAll();
  t.equal(await done, 'count');
  t.equal(load.stats.sent, 10);
  t.equal(load.stats.failed, 0);
});

t.test('consume counter', async (t) => {
  const clock = new ManualClock(10_000);
  const writer = new PayloadWriter(32, 5);
  const counter = new ConsumeCounter(3, clock);
  t.equal(counter.onMessage(writer.body(0, 9_000)), undefined);
  t.equal(counter.onMessage(writer.body(0, 9_000)), undefined, 'a duplicate is counted and acked');
  t.equal(counter.onMessage(Buffer.from('plain')), undefined);
  await counter.target_reached;
  t.equal(counter.onMessage(writer.body(1, 9_000)), not_counted, 'past the target: left to the group');
  t.match(counter, { received: 3, unstamped: 1 });
  t.match(counter.tracker, { unique: 1, duplicates: 1 });
  t.equal(counter.e2e_latency.samples, 1, 'latency of first deliveries only');
  t.equal(counter.e2e_latency.valueAtPercentileUs(100), 1_000);

  const only = new ConsumeCounter(undefined, clock, 5);
  only.onMessage(new PayloadWriter(32, 6).body(0, 0));
  only.onMessage(writer.body(3, 9_500));
  t.equal(only.received, 1, 'only the given run counts');
  t.equal(only.tracker.uniqueOf(5), 1);
});
