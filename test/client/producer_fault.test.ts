import t from 'tap';
import { Admin, MqError, Producer, type SendResult } from '../../src/client/index.js';
import type { NodeProcess } from '../cli/node_process.js';
import { startCluster, until } from './client_helpers.js';

/**
 * Fault avoidance with real processes: a nameserver and two brokers; sends run in parallel
 * loops; one broker is killed with SIGKILL mid-stream. Sends keep succeeding (a send that
 * met the dead broker is retried on the other one), and once the route no longer lists the
 * dead broker no send fails at all.
 */

const loops = 8;
const sends_before_kill = 400;
const sends_after_refresh = 800;

t.test('one of two brokers is killed: sends keep succeeding on the other', async (t) => {
  const cluster = await startCluster(t, ['broker-a', 'broker-b']);
  const admin = new Admin({ namesrv: cluster.namesrv, instanceName: 'fault-admin' });
  t.teardown(() => admin.close());
  // A broker prints its ready line before its registration reaches the nameserver.
  await until('both brokers registered', async () => ((await admin.cluster()).groups.length === 2 ? true : undefined));
  const route = await admin.createTopic({ topic: 'FaultTopic', queues: 4 });
  t.same(route.queues.map((queue) => queue.brokerName).sort(), ['broker-a', 'broker-b'], 'the topic is on both brokers');

  const producer = new Producer({ namesrv: cluster.namesrv, instanceName: 'fault-producer', retries: 2 });
  await producer.start();
  t.teardown(() => producer.shutdown());

  type Outcome = { phase: 'before' | 'during' | 'after'; result?: SendResult; error?: MqError };
  const outcomes: Outcome[] = [];
  let phase: Outcome['phase'] = 'before';
  let stop = false;
  let sent_after = 0;
  const sender = async (loop: number): Promise<void> => {
    for (let index = 0; !stop; index++) {
      const at_phase = phase;
      try {
        const result = await producer.send({ topic: 'FaultTopic', body: `loop ${loop} message ${index}` });
        outcomes.push({ phase: at_phase, result });
      } catch (error) {
        outcomes.push({ phase: at_phase, error: error as MqError });
      }
      if (at_phase === 'after' && ++sent_after >= sends_after_refresh) stop = true;
    }
  };
  const senders = Promise.all(Array.from({ length: loops }, (_, loop) => sender(loop)));
  try {
    await until('sends reached both brokers', () => {
      const brokers = new Set(outcomes.flatMap((outcome) => (outcome.result === undefined ? [] : [outcome.result.brokerName])));
      return outcomes.length >= sends_before_kill && brokers.size === 2 ? true : undefined;
    });
    phase = 'during';
    const killed = await (cluster.brokers.get('broker-b') as NodeProcess).signal('SIGKILL');
    t.equal(killed.signal, 'SIGKILL', 'broker-b was killed with SIGKILL');
    await until('the route lists broker-a only', async () => {
      const now = await admin.route('FaultTopic');
      return now.brokers.length === 1 && now.brokers[0]?.brokerName === 'broker-a' ? true : undefined;
    });
    phase = 'after';
    await until('the sends after the refresh are done', () => (stop ? true : undefined));
  } finally {
    // Whatever failed above, the loops stop: they must not outlive the test.
    stop = true;
    await senders;
  }

  const failed = (which: Outcome['phase']): Outcome[] => outcomes.filter((outcome) => outcome.phase === which && outcome.error !== undefined);
  const during = outcomes.filter((outcome) => outcome.phase === 'during');
  const after = outcomes.filter((outcome) => outcome.phase === 'after');
  t.comment(`sends: ${outcomes.length} (before kill ${outcomes.length - during.length - after.length}, until the route refresh ${during.length}, after ${after.length}); failures: before ${failed('before').length}, during ${failed('during').length}, after ${failed('after').length}`);
  t.equal(failed('before').length, 0, 'no failure while both brokers lived');
  t.same(failed('during').map((outcome) => outcome.error?.message), [], 'no failure between the kill and the route refresh (retries moved sends to broker-a)');
  t.equal(failed('after').length, 0, 'no failure after the route refresh');
  t.ok(after.length >= sends_after_refresh, `${after.length} sends after the refresh`);
  t.ok(after.every((outcome) => outcome.result?.brokerName === 'broker-a' && outcome.result.status === 'SEND_OK'), 'after the refresh every send went to broker-a');
});
