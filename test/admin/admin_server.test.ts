import { request as httpRequest } from 'node:http';
import { MqError } from '../../src/runtime/errors.js';
import t, { type Test } from 'tap';
import { AdminServer } from '../../src/admin/admin_server.js';
import type { AdminSource, HealthReport } from '../../src/admin/admin_source.js';
import type { RestartOutcome } from '../../src/runtime/actor_cell.js';
import type { ActorStats } from '../../src/runtime/actor_stats.js';

function actor(fields: Partial<ActorStats> & { address: string }): ActorStats {
  return {
    kind: 'test', thread: 1, status: 'running', mailboxDepth: 0, handled: 0, ratePerSecond: 0,
    busyMs: 0, restarts: 0, lastError: null, ...fields,
  };
}

/** A source whose answers the test sets; counts calls so a scrape can be shown to ask once. */
class FakeSource implements AdminSource {
  actors: ActorStats[] = [];
  report: HealthReport = { ok: true };
  list_calls = 0;
  listActors: () => Promise<ActorStats[]> = async () => {
    this.list_calls++;
    return this.actors;
  };
  health: () => Promise<HealthReport> = async () => this.report;
  restartActor?: (address: string, hold_ms: number) => Promise<RestartOutcome>;
  messageView?: (msg_id: string) => Promise<object>;
  messageQueryView?: (query: { topic: string; key: string; max?: number }) => Promise<object>;
}

async function startServer(t: Test, source: AdminSource, source_call_timeout_ms?: number): Promise<string> {
  const server = await AdminServer.start({ host: '127.0.0.1', port: 0, source, ...(source_call_timeout_ms === undefined ? {} : { source_call_timeout_ms }) });
  t.teardown(() => server.close());
  t.equal(server.address.host, '127.0.0.1');
  t.ok(server.address.port > 0, 'port 0 picked a free port');
  return `http://127.0.0.1:${server.address.port}`;
}

/** The sample of a series in Prometheus text, or undefined when the series is absent. */
function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('healthz: 200 ok when healthy, 503 with the reason otherwise', async (t) => {
  const source = new FakeSource();
  const base = await startServer(t, source);
  let response = await fetch(`${base}/healthz`);
  t.equal(response.status, 200);
  t.equal(await response.text(), 'ok\n');

  source.report = { ok: false, reason: 'thread 2: probe timed out' };
  response = await fetch(`${base}/healthz`);
  t.equal(response.status, 503);
  t.equal(await response.text(), 'unavailable: thread 2: probe timed out\n');

  source.health = async () => {
    throw new Error('router closed');
  };
  response = await fetch(`${base}/healthz`);
  t.equal(response.status, 503);
  t.equal(await response.text(), 'unavailable: router closed\n');
});

t.test('a source that never answers gives 503, not a hung request', async (t) => {
  const source = new FakeSource();
  source.health = () => new Promise<HealthReport>(() => undefined);
  source.listActors = () => new Promise<ActorStats[]>(() => undefined);
  const base = await startServer(t, source, 100);
  const health = await fetch(`${base}/healthz`);
  t.equal(health.status, 503);
  t.match(await health.text(), /^unavailable: the health probe took longer than 100 ms/);
  const actors = await fetch(`${base}/api/actors`);
  t.equal(actors.status, 503);
  t.match(await actors.json(), { error: /listing the actors took longer than 100 ms/ });
  const metrics = await fetch(`${base}/metrics`);
  t.equal(metrics.status, 503);
  t.match(await metrics.text(), /^metrics unavailable: listing the actors took longer than 100 ms/);
});

t.test('metrics: actor series carry the source values; process metrics are there', async (t) => {
  const source = new FakeSource();
  source.actors = [
    actor({ address: 'commitlog', thread: 1, mailboxDepth: 7, handled: 1200, restarts: 2, busyMs: 1500 }),
    actor({ address: 'cq/T/0', thread: 2, mailboxDepth: 0, handled: 5, restarts: 0, busyMs: 0.25 }),
  ];
  const base = await startServer(t, source);
  const response = await fetch(`${base}/metrics`);
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  t.equal(source.list_calls, 1, 'one scrape reads the actors once');
  t.equal(sample(text, 'mq_actor_mailbox_depth{address="commitlog",thread="1"}'), 7);
  t.equal(sample(text, 'mq_actor_mailbox_depth{address="cq/T/0",thread="2"}'), 0);
  t.equal(sample(text, 'mq_actor_messages_handled_total{address="commitlog",thread="1"}'), 1200);
  t.equal(sample(text, 'mq_actor_messages_handled_total{address="cq/T/0",thread="2"}'), 5);
  t.equal(sample(text, 'mq_actor_restarts_total{address="commitlog",thread="1"}'), 2);
  t.equal(sample(text, 'mq_actor_busy_seconds_total{address="commitlog",thread="1"}'), 1.5);
  t.equal(sample(text, 'mq_actor_busy_seconds_total{address="cq/T/0",thread="2"}'), 0.00025);
  t.match(text, /# TYPE mq_actor_mailbox_depth gauge/);
  t.match(text, /# TYPE mq_actor_messages_handled_total counter/);
  t.ok((sample(text, 'process_cpu_user_seconds_total') ?? -1) >= 0, 'process metrics');
  t.ok((sample(text, 'nodejs_heap_size_total_bytes') ?? 0) > 0, 'node metrics');

  // Values are read at scrape time: a changed source shows at once, a gone actor disappears.
  source.actors = [actor({ address: 'commitlog', thread: 1, mailboxDepth: 1, handled: 1300 })];
  const next = await (await fetch(`${base}/metrics`)).text();
  t.equal(sample(next, 'mq_actor_mailbox_depth{address="commitlog",thread="1"}'), 1);
  t.equal(sample(next, 'mq_actor_messages_handled_total{address="commitlog",thread="1"}'), 1300);
  t.equal(sample(next, 'mq_actor_mailbox_depth{address="cq/T/0",thread="2"}'), undefined, 'a stopped actor has no series');
});

t.test('metrics and actors: a failing source gives 503 with the reason', async (t) => {
  const source = new FakeSource();
  source.listActors = async () => {
    throw new Error('thread 1 is down');
  };
  const base = await startServer(t, source);
  const metrics = await fetch(`${base}/metrics`);
  t.equal(metrics.status, 503);
  t.equal(await metrics.text(), 'metrics unavailable: thread 1 is down\n');
  const actors = await fetch(`${base}/api/actors`);
  t.equal(actors.status, 503);
  t.same(await actors.json(), { error: 'thread 1 is down' });
});

t.test('api/actors returns the source data as JSON', async (t) => {
  const source = new FakeSource();
  source.actors = [actor({ address: 'wheel', thread: 2, status: 'restarting', lastError: 'boom', ratePerSecond: 12.5 })];
  const base = await startServer(t, source);
  const response = await fetch(`${base}/api/actors`);
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^application\/json/);
  t.same(await response.json(), { actors: source.actors });
});

t.test('unknown path 404, other methods 405, both as JSON', async (t) => {
  const base = await startServer(t, new FakeSource());
  const missing = await fetch(`${base}/nothing?x=1`);
  t.equal(missing.status, 404);
  t.same(await missing.json(), {
    error: 'no such path: /nothing',
    paths: [
      '/', '/inspector/index.html', '/inspector/inspector.js', '/inspector/inspector.css', '/inspector/uPlot.iife.min.js', '/inspector/uPlot.min.css',
      '/api/cluster', '/api/groups', '/api/messages', '/api/events', '/healthz', '/metrics', '/api/actors', '/api/store',
    ],
  });
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const response = await fetch(`${base}/healthz`, { method, body: method === 'DELETE' ? null : 'x' });
    t.equal(response.status, 405, method);
    t.equal(response.headers.get('allow'), 'GET');
    t.same(await response.json(), { error: `method ${method} is not allowed; the admin API is read-only (use GET) but for POST /api/actors/restart` });
  }
});

t.test('POST /api/actors/restart: named, confirmed, and only for a running actor', async (t) => {
  const source = new FakeSource();
  const restarted: string[] = [];
  source.restartActor = async (address, hold_ms) => {
    if (address === 'store/busy') return 'after_handler';
    if (address !== 'store/flush') return 'not_running';
    restarted.push(`${address} held ${hold_ms} ms`);
    return 'restarting';
  };
  const base = await startServer(t, source);
  const restart = async (query: string, confirm?: string): Promise<[number, unknown]> => {
    const response = await fetch(`${base}/api/actors/restart${query}`, { method: 'POST', headers: confirm === undefined ? {} : { 'x-mq-confirm': confirm } });
    return [response.status, await response.json()];
  };
  t.same(await restart(''), [400, { error: 'name the actor: POST /api/actors/restart?address=<address>' }]);
  t.same(await restart('?address=store/flush'), [400, { error: 'a restart must be confirmed: send the header "x-mq-confirm: restart store/flush"' }]);
  t.same(await restart('?address=store/flush', 'restart store/other'), [400, { error: 'a restart must be confirmed: send the header "x-mq-confirm: restart store/flush"' }], 'the confirmation names the same actor');
  t.same(restarted, [], 'nothing restarted without a matching confirmation');
  t.same(await restart('?address=store/flush', 'restart store/flush'), [200, { restarted: 'store/flush' }]);
  t.same(await restart('?address=store/busy', 'restart store/busy'), [202, { restarting: 'store/busy', when: 'its running handler settles' }], 'an actor inside a handler restarts when it settles, and says so');
  t.same(await restart('?address=nobody', 'restart nobody'), [404, { error: "no running actor 'nobody' on this node (it may be restarting, failed or stopped already)" }]);
  t.same(await restart('?address=store/flush&holdMs=2500', 'restart store/flush'), [200, { restarted: 'store/flush' }], 'a drill holds it down');
  t.same(await restart('?address=store/flush&holdMs=soon', 'restart store/flush'), [400, { error: 'holdMs takes whole milliseconds from 0 to 60000, not "soon"' }]);
  t.same(await restart('?address=store/flush&holdMs=60001', 'restart store/flush'), [400, { error: 'holdMs takes whole milliseconds from 0 to 60000, not "60001"' }]);
  t.same(restarted, ['store/flush held 0 ms', 'store/flush held 2500 ms'], 'exactly the confirmed restarts reached the node, with their holds');
  const get = await fetch(`${base}/api/actors/restart?address=store/flush`);
  t.equal(get.status, 404, 'a GET restarts nothing');
});

t.test('the inspector page and its live events', async (t) => {
  const source = new FakeSource();
  source.actors = [actor({ address: 'store/flush', thread: 2 })];
  const base = await startServer(t, source);
  const page = await fetch(`${base}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.match(await page.text(), /<script type="module" src="\/inspector\/inspector\.js"><\/script>/);
  const script = await fetch(`${base}/inspector/inspector.js`);
  t.match(script.headers.get('content-type'), /^text\/javascript/);
  t.match(await script.text(), /new EventSource\('\/api\/events'\)/);

  const controller = new AbortController();
  const events = await fetch(`${base}/api/events`, { signal: controller.signal });
  t.match(events.headers.get('content-type'), /^text\/event-stream/);
  const reader = (events.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  for (let reads = 0; !text.includes('\n\n') && reads < 100; reads++) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += new TextDecoder().decode(chunk.value);
  }
  controller.abort();
  const [event_line, data_line] = text.split('\n');
  t.equal(event_line, 'event: snapshot');
  const snapshot = JSON.parse((data_line ?? '').replace(/^data: /, '')) as { actors: unknown; store: unknown; actorsError: unknown };
  t.same([snapshot.actors, snapshot.store, snapshot.actorsError], [source.actors, null, null], 'the actors as /api/actors has them; no store on this node');
});

t.test('a taken port fails the start with a message naming the address and the flag', async (t) => {
  const source = new FakeSource();
  const first = await AdminServer.start({ host: '127.0.0.1', port: 0, source });
  t.teardown(() => first.close());
  await t.rejects(AdminServer.start({ host: '127.0.0.1', port: first.address.port, source }), {
    message: new RegExp(`^admin HTTP server cannot listen on 127\\.0\\.0\\.1:${first.address.port}: .*EADDRINUSE.*choose another with --admin-port`),
  });
  await first.close();
  await first.close(); // idempotent
  await t.rejects(fetch(`http://127.0.0.1:${first.address.port}/healthz`), 'closed server refuses connections');
});

t.test('a Host header this server does not answer to is refused; restarts are rate-limited; a bad id escape is a 400', async (t) => {
  const source = new FakeSource();
  let restarts = 0;
  source.restartActor = async () => {
    restarts++;
    return 'restarting';
  };
  source.messageView = async (msg_id) => ({ msgId: msg_id });
  source.messageQueryView = async (query) => {
    if (query.key === 'refused') throw new MqError('BAD_REQUEST', 'message key "refused" is invalid');
    return { query };
  };
  const base = await startServer(t, source);
  const port = Number(new URL(base).port);
  const get = (host: string): Promise<[number, string]> => new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/api/actors', headers: { host } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve([response.statusCode ?? 0, body]));
    });
    request.on('error', reject);
    request.end();
  });
  const [refused_status, refused_body] = await get('attacker.example:8080');
  t.equal(refused_status, 403, 'a rebound DNS name is refused');
  t.match(JSON.parse(refused_body), { error: /Host header names "attacker\.example:8080", which this admin server does not answer to/ });
  t.equal((await get(`127.0.0.1:${port}`))[0], 200, 'an IP address is served');
  t.equal((await get(`localhost:${port}`))[0], 200, 'localhost is served');
  t.equal((await get(`[::1]:${port}`))[0], 200, 'a bracketed IPv6 address is served');

  const statuses: number[] = [];
  for (let index = 0; index < 12; index++) {
    const response = await fetch(`${base}/api/actors/restart?address=store/flush`, { method: 'POST', headers: { 'x-mq-confirm': 'restart store/flush' } });
    statuses.push(response.status);
  }
  t.same(statuses, [...Array<number>(10).fill(200), 429, 429], 'ten restarts a minute, then 429');
  t.equal(restarts, 10, 'the refused ones reached nothing');

  const bad_escape = await fetch(`${base}/api/messages/%E0%A4%A`);
  t.equal(bad_escape.status, 400);
  t.same(await bad_escape.json(), { error: 'the message id in the path is not valid percent-encoding' });
  const message = await fetch(`${base}/api/messages/ABC`);
  t.same([message.status, await message.json()], [200, { msgId: 'ABC' }]);

  const by_key = await fetch(`${base}/api/messages?topic=Orders&key=${encodeURIComponent('order#7/ü')}&max=5`);
  t.same([by_key.status, await by_key.json()], [200, { query: { topic: 'Orders', key: 'order#7/ü', max: 5 } }], 'by key: topic, key (percent-decoded) and max reach the view');
  const no_max = await fetch(`${base}/api/messages?topic=Orders&key=k`);
  t.same(await no_max.json(), { query: { topic: 'Orders', key: 'k' } }, 'max is optional');
  for (const bad of ['?topic=Orders', '?key=k', '?topic=Orders&key=k&max=-1', '?topic=Orders&key=k&max=many']) {
    const response = await fetch(`${base}/api/messages${bad}`);
    t.same([response.status, ((await response.json()) as { error: string }).error], [400, 'look messages up by key with /api/messages?topic=T&key=K[&max=N] (or by id with /api/messages/<msgId>)'], `${bad} is a 400`);
  }
  const refused = await fetch(`${base}/api/messages?topic=Orders&key=refused`);
  t.same([refused.status, await refused.json()], [400, { error: 'message key "refused" is invalid' }], "the view's BAD_REQUEST is a 400");
});
