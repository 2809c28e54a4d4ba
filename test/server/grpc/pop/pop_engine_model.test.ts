import t from 'tap';
import { prng } from '../../../helpers/prng.js';
import { popSetup, settle } from './pop_helpers.js';

/**
 * Random receives, acks, new invisible durations, forged acks and clock jumps (seeded, so a
 * failure replays), checked against what the test itself acked:
 * - a commit never passes a message that was neither acked nor dead-lettered;
 * - an acked message is never delivered again;
 * - in the end every message is acked or dead-lettered, exactly one of the two, and the
 *   committed offsets are the queues' ends.
 */
for (const seed of [1, 2, 3, 0xbeef]) {
  t.test(`random operations keep the committed offsets safe (seed ${seed})`, async (t) => {
    const random = prng(seed);
    const below = (n: number): number => Math.floor(random() * n);
    const { broker, clock, engine, receive } = popSetup({ queues: 3, limits: { in_flight_per_subscription_max: 40 } });
    await engine.register('G', 'T', { max_attempts: 4 });
    const acked = new Set<string>();
    const latest = new Map<string, string>(); // message -> its latest handle
    const refused_latest = new Set<string>();
    const violations: string[] = [];
    const dead = (): Set<string> => new Set(broker.dead_letters.map((letter) => `${letter.message.queue_id}:${letter.message.queue_offset}`));
    broker.on_commit = (_group, _topic, queue_id, offset) => {
      const letters = dead();
      const from = Math.max(0, broker.committedOf('G', 'T', queue_id));
      for (let below_offset = from; below_offset < offset; below_offset++) {
        const key = `${queue_id}:${below_offset}`;
        if (!acked.has(key) && !letters.has(key)) violations.push(`commit ${queue_id}@${offset} passes ${key}`);
      }
    };
    let appended = 0;
    for (let step = 0; step < 3_000; step++) {
      const roll = random();
      if (appended < 600 && roll < 0.1) {
        const count = 1 + below(10);
        broker.append('T', count);
        appended += count;
      } else if (roll < 0.4) {
        try {
          const batch = await receive({ batch_size: 1 + below(8), invisible_ms: 1_000 + below(5_000) });
          for (const received of batch) {
            const key = `${received.message.queueId}:${received.message.queueOffset}`;
            if (acked.has(key)) violations.push(`${key} delivered after its ack`);
            latest.set(key, received.receipt_handle);
          }
        } catch (error) {
          if ((error as { code?: string }).code !== 'BUSY') throw error;
        }
      } else if (roll < 0.7 && latest.size > 0) {
        const keys = [...latest.keys()];
        const key = keys[below(keys.length)] as string;
        const result = engine.ack('G', 'T', latest.get(key) as string);
        latest.delete(key);
        if (result.status === 'ok') acked.add(key);
        else refused_latest.add(key);
      } else if (roll < 0.8 && latest.size > 0) {
        const keys = [...latest.keys()];
        const key = keys[below(keys.length)] as string;
        const changed = engine.changeInvisibleDuration('G', 'T', latest.get(key) as string, below(4) === 0 ? 0 : below(5_000));
        if (changed.status === 'ok') latest.set(key, changed.receipt_handle);
        else latest.delete(key);
      } else if (roll < 0.85) {
        const handle = [...latest.values()][0];
        if (handle !== undefined && engine.ack('G', 'T', `${handle.slice(0, -2)}AA`).status === 'ok') violations.push('a forged handle acked');
      } else {
        clock.advance(below(3_000));
      }
      if (step % 50 === 0) await settle(1);
    }
    // Drain: everything still in flight comes back until it is acked or dead-lettered.
    const busy = (): boolean => (engine.inspect()['in_flight'] as number) > 0;
    for (let round = 0; round === 0 || (round < 200 && busy()); round++) {
      clock.advance(10_000);
      for (;;) {
        const batch = await receive({ batch_size: 32 });
        if (batch.length === 0) break;
        for (const received of batch) {
          const key = `${received.message.queueId}:${received.message.queueOffset}`;
          if (engine.ack('G', 'T', received.receipt_handle).status === 'ok') acked.add(key);
        }
      }
      await settle(2);
    }
    engine.flushCommits();
    const letters = dead();
    t.comment(`${appended} messages: ${acked.size} acked, ${letters.size} dead-lettered, ${refused_latest.size} latest handles refused, ${broker.commits.length} commits`);
    t.ok(acked.size > 0 && letters.size > 0, 'the run acked some and dead-lettered some');
    t.same(violations, [], 'no commit passed an unacked message, no acked message came back');
    t.equal(acked.size + letters.size, appended, `every one of ${appended} messages acked or dead-lettered`);
    t.same([...acked].filter((key) => letters.has(key)), [], 'never both');
    t.same([...refused_latest].filter((key) => !letters.has(key)), [], 'a latest handle was refused only for a dead-lettered message');
    const ends = [0, 1, 2].map((queue_id) => broker.window('T', queue_id)?.max_offset ?? 0);
    t.same([0, 1, 2].map((queue_id) => broker.committedOf('G', 'T', queue_id)), ends, 'committed at the ends');
  });
}
