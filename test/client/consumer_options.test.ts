import t from 'tap';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { resolveConsumerOptions } from '../../src/client/consumer/consumer_options.js';
import { tagCheckOf } from '../../src/client/consumer/tag_check.js';

/** Options are checked before any I/O; mistakes are BAD_REQUEST errors that say what to do. */

const base = { namesrv: '127.0.0.1:9876', group: 'G', subscriptions: [{ topic: 'T' }] };

t.test('defaults', async (t) => {
  const options = resolveConsumerOptions(base);
  t.match(options, { mode: 'clustering', allocation: 'averagely', max_reconsume_times: 16, from_where: 'last', orderly: false, instance_name: 'DEFAULT' });
  t.equal(options.subscriptions[0]?.tags.expression, '*');
});

t.test('bad options are BAD_REQUEST naming the option', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['group', { group: 'bad group' }, /group name/],
    ['no subscriptions', { subscriptions: [] }, /needs subscriptions/],
    ['bad topic', { subscriptions: [{ topic: 'a b' }] }, /topic name/],
    ['same topic twice', { subscriptions: [{ topic: 'T' }, { topic: 'T', tags: 'a' }] }, /twice/],
    ['bad tags', { subscriptions: [{ topic: 'T', tags: 'a|b' }] }, /single "\|"/],
    ['mode', { mode: 'fanout' }, /mode must be one of clustering, broadcasting/],
    ['allocation', { allocation: 'random' }, /allocation must be one of averagely, circle, consistent-hash/],
    ['fromWhere', { fromWhere: 'middle' }, /fromWhere/],
    ['maxReconsumeTimes', { maxReconsumeTimes: -1 }, /maxReconsumeTimes must be an integer/],
    ['concurrency', { concurrency: 0 }, /concurrency/],
    ['orderly', { orderly: 'yes' }, /orderly must be true or false/],
    ['long poll', { longPollTimeoutMs: 60_000 }, /longPollTimeoutMs/],
    ['namesrv', { namesrv: 'nohost' }, /host:port/],
  ];
  for (const [name, change, message] of cases) {
    t.throws(() => new Consumer({ ...base, ...change } as never), { code: 'BAD_REQUEST', message }, name);
  }
});

t.test('listener rules: set before start, a function, and start needs one', async (t) => {
  const consumer = new Consumer(base);
  t.throws(() => consumer.onMessage('no' as never), { code: 'BAD_REQUEST' });
  await t.rejects(consumer.start(), { code: 'BAD_REQUEST', message: /onMessage/ });
  await consumer.shutdown();
  const unstarted = new Consumer(base);
  await unstarted.shutdown();
  t.throws(() => unstarted.onMessage(async () => undefined), { code: 'BAD_REQUEST', message: /before start/ });
});

t.test('start fails clearly when no nameserver answers', async (t) => {
  const consumer = new Consumer({ ...base, namesrv: '127.0.0.1:9', instanceName: 'no-namesrv', logger: { warn: () => undefined } });
  consumer.onMessage(async () => undefined);
  await t.rejects(consumer.start(), { code: 'BROKER_UNAVAILABLE', message: /nameserver/ });
  await t.rejects(consumer.start(), { code: 'BAD_REQUEST', message: /already/ }, 'a consumer starts once');
  await consumer.shutdown();
});

t.test('the client-side tag check is exact', async (t) => {
  const any = tagCheckOf(undefined);
  t.equal(any.expression, '*');
  t.ok(any.accepts(null) && any.accepts('x'));
  const some = tagCheckOf(' a || b ||a');
  t.equal(some.expression, 'a||b', 'normalised for the broker');
  t.ok(some.accepts('a') && some.accepts('b'));
  t.notOk(some.accepts('c') || some.accepts(null) || some.accepts('a||b'));
});
