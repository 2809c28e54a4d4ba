import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { startAclStandalone } from '../cluster/fixtures/acl_standalone.js';
import t from 'tap';
import { chromium } from 'playwright-core';
import { admin_auth_challenge, basicAuthorization } from '../../src/admin/admin_auth.js';
import { Admin, Producer } from '../../src/client/index.js';
import type { ActorStats } from '../../src/runtime/actor_stats.js';
import { node_process_limits, runCli, type NodeProcess } from '../cli/node_process.js';
import { until } from '../client/client_helpers.js';

/**
 * The admin HTTP port of a real standalone node with an ACL (--acl-file): /healthz stays
 * open; every other request — the inspector page, the JSON API, /metrics and the restart
 * action — answers 401 (with a Basic challenge) without credentials or with wrong ones, 403 to
 * a non-admin account or an admin one from an address it may not use, and the real data to
 * an admin account. A refused restart restarts nothing; an ACL edit on disk applies without a
 * restart; `mq-node inspect` takes --access-key and $MQ_SECRET_KEY; the node warns once that
 * its admin port runs plain http; refusals are logged at most once a second per reason; and
 * a browser, given the credentials, runs the inspector page (its fetch and EventSource calls)
 * with the cluster views read as the node's own account.
 */

const secret = (name: string): string => `${name}-secret-0123456789`;
const accounts = {
  node: { accessKey: 'node-admin', secretKey: secret('node-admin'), admin: true },
  operator: { accessKey: 'operator', secretKey: secret('operator'), admin: true },
  viewer: { accessKey: 'viewer', secretKey: secret('viewer'), defaultTopicPerm: 'SUB', defaultGroupPerm: 'SUB' },
  // An admin that may only connect from elsewhere: loopback is not among its addresses.
  remote_admin: { accessKey: 'remote-admin', secretKey: secret('remote-admin'), admin: true, allowAddresses: ['10.99.0.0/16'] },
};
const second_admin = { accessKey: 'second-admin', secretKey: secret('second-admin'), admin: true };
const chromium_path = '/usr/bin/chromium';

interface Answer {
  status: number;
  challenge: string | null;
  type: string;
  body: string;
}

type Keys = { accessKey: string; secretKey: string };

/** One request to the node's admin port, with the account's Basic credentials when given. */
async function call(node: NodeProcess, request: { path: string; method?: 'GET' | 'POST'; keys?: Keys; headers?: Record<string, string> }): Promise<Answer> {
  const headers: Record<string, string> = { ...request.headers, ...(request.keys === undefined ? {} : { authorization: basicAuthorization(request.keys.accessKey, request.keys.secretKey) }) };
  const response = await fetch(`http://${String(node.ready['admin'])}${request.path}`, { method: request.method ?? 'GET', headers, signal: AbortSignal.timeout(node_process_limits.command_timeout_ms) });
  return { status: response.status, challenge: response.headers.get('www-authenticate'), type: response.headers.get('content-type') ?? '', body: await response.text() };
}

function errorOf(answer: Answer): string {
  return (JSON.parse(answer.body) as { error: string }).error;
}

async function actorsOf(node: NodeProcess, keys: Keys): Promise<ActorStats[]> {
  const answer = await call(node, { path: '/api/actors', keys });
  if (answer.status !== 200) throw new Error(`/api/actors answered ${answer.status}: ${answer.body}`);
  return (JSON.parse(answer.body) as { actors: ActorStats[] }).actors;
}

/** The sample of a series in Prometheus text, or undefined when the series is absent. */
function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The node's JSON log lines (stderr) with this message; a last line still being read is left out. */
function logLines(node: NodeProcess, msg: string): Array<Record<string, unknown>> {
  const stderr = node.stderr();
  const complete = stderr.slice(0, stderr.lastIndexOf('\n') + 1);
  return complete.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['msg'] === msg);
}

const restarted_actor = 'store/offsets';
const restart = (address: string): { path: string; method: 'POST'; headers: Record<string, string> } => ({
  path: `/api/actors/restart?address=${encodeURIComponent(address)}`, method: 'POST', headers: { 'x-mq-confirm': `restart ${address}` },
});

t.test('the admin HTTP port of a node with an ACL', async (t) => {
  const { node, acl_path } = await startAclStandalone(t, Object.values(accounts), accounts.node);
  const namesrv = node.ready['namesrv'] as string;
  const admin_address = node.ready['admin'] as string;

  await t.test('one warning at start: Basic authentication over plain http', async (t) => {
    const warnings = node.stderr().split('\n').filter((line) => line.includes('admin HTTP port runs plain http while access control is on'));
    t.equal(warnings.length, 1, 'logged once');
    t.match(warnings[0], /--tls-cert/, 'recommending TLS');
  });

  await t.test('/healthz is open: 200 without credentials', async (t) => {
    const answer = await call(node, { path: '/healthz' });
    t.same([answer.status, answer.body, answer.challenge], [200, 'ok\n', null]);
  });

  await t.test('without an admin account: 401 with a Basic challenge, or 403; nothing restarted', async (t) => {
    const requests = [{ path: '/' }, { path: '/api/actors' }, { path: '/metrics' }, { path: '/api/store' }, { path: '/api/cluster' }, { path: '/api/events' }, { path: '/healthz', method: 'POST' as const }, restart(restarted_actor)];
    const cases: Array<{ who: string; keys: Keys | undefined; status: number; error: RegExp }> = [
      { who: 'no credentials', keys: undefined, status: 401, error: /^this admin port requires an admin account of the node's ACL: send HTTP Basic authentication/ },
      { who: 'a wrong secret', keys: { accessKey: accounts.operator.accessKey, secretKey: 'not-the-secret' }, status: 401, error: /^unknown access key or wrong secret key/ },
      { who: 'a secret that differs in its last character', keys: { accessKey: accounts.operator.accessKey, secretKey: `${accounts.operator.secretKey.slice(0, -1)}X` }, status: 401, error: /^unknown access key or wrong secret key/ },
      { who: 'an unknown access key', keys: { accessKey: 'nobody', secretKey: secret('nobody') }, status: 401, error: /^unknown access key or wrong secret key/ },
      { who: 'a non-admin account', keys: accounts.viewer, status: 403, error: /^account "viewer" is not an admin account: the admin HTTP port serves admin accounts only/ },
      { who: 'an admin from an address it may not use', keys: accounts.remote_admin, status: 403, error: /^account "remote-admin" may not connect from (::ffff:)?127\.0\.0\.1: add the address to its allowAddresses/ },
    ];
    for (const { who, keys, status, error } of cases) {
      for (const request of requests) {
        const answer = await call(node, { ...request, ...(keys === undefined ? {} : { keys }) });
        const what = `${request.method ?? 'GET'} ${request.path} with ${who}`;
        t.equal(answer.status, status, what);
        t.equal(answer.challenge, status === 401 ? admin_auth_challenge : null, `${what}: ${status === 401 ? 'a Basic challenge' : 'no challenge (a browser must not prompt again)'}`);
        t.match(answer.type, /^application\/json/, `${what}: a JSON body`);
        t.match(errorOf(answer), error, `${what}: says what to do`);
      }
    }
    const header_cases = ['Bearer abc', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`];
    for (const authorization of header_cases) {
      const answer = await call(node, { path: '/api/actors', headers: { authorization } });
      t.same([answer.status, answer.challenge], [401, admin_auth_challenge], `Authorization: ${authorization} is no Basic credential`);
    }
    const actors = await actorsOf(node, accounts.operator);
    t.equal(actors.find((actor) => actor.address === restarted_actor)?.restarts, 0, `${restarted_actor} was not restarted by any refused request`);
  });

  await t.test('refusals are logged, at most once a second per reason', async (t) => {
    const unknown_key_lines = (): Array<Record<string, unknown>> => logLines(node, 'admin HTTP access denied').filter((line) => line['reason'] === 'unknown access key');
    // A reason no request before has had, so that the throttle lets its first line through.
    const marker_reason = `wrong secret key for account "${accounts.viewer.accessKey}"`;
    const marker_lines = (): Array<Record<string, unknown>> => logLines(node, 'admin HTTP access denied').filter((line) => line['reason'] === marker_reason);
    t.ok(unknown_key_lines().length >= 1, 'the unknown key of the subtest before was logged');
    // A second after the last line of the reason, a burst: its first refusal is logged, and
    // then one more line per second at most, whatever the keys.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const before = unknown_key_lines().length;
    const started_ms = performance.now();
    const burst = 30;
    for (let index = 0; index < burst; index++) await call(node, { path: '/metrics', keys: { accessKey: `flood-${index}`, secretKey: 'flood-secret-0123456789' } });
    const elapsed_ms = performance.now() - started_ms;
    // The node writes its log lines in order, synchronously, on one stream (stderr): once the
    // line of a refusal made after the burst has been read, every line of the burst has been.
    // Counting as soon as a first new line shows up could count a stream read only in part.
    t.equal(marker_lines().length, 0, 'the marker reason was never logged before');
    const marker = await call(node, { path: '/metrics', keys: { accessKey: accounts.viewer.accessKey, secretKey: 'not-the-viewer-secret' } });
    t.equal(marker.status, 401, 'the marker request after the burst is refused too');
    await until('the marker refusal is logged', () => (marker_lines().length === 1 ? true : undefined));
    const lines = unknown_key_lines().slice(before);
    t.ok(lines.length >= 1 && lines.length <= Math.ceil(elapsed_ms / 1_000), `${lines.length} line(s) for ${burst} refusals with made-up keys over ${Math.round(elapsed_ms)} ms`);
    t.match(lines[0], { level: 40, reason: 'unknown access key', account: 'flood-0', remote: /127\.0\.0\.1/ }, 'a warning naming the key and the address');
    const forbidden = logLines(node, 'admin HTTP access denied').filter((line) => line['reason'] === 'account "viewer" is not an admin account');
    t.ok(forbidden.length >= 1, 'the non-admin refusals are logged under their own reason');
  });

  await t.test('an admin account gets the real content', async (t) => {
    const page = await call(node, { path: '/', keys: accounts.operator });
    t.same([page.status, page.type], [200, 'text/html; charset=utf-8']);
    t.match(page.body, /<title>mq-node inspector<\/title>/, 'the inspector page');
    const actors = await actorsOf(node, accounts.operator);
    t.ok(actors.some((actor) => actor.address === 'store/commit_log' && actor.status === 'running'), '/api/actors lists the CommitLog writer, running');
    const metrics = await call(node, { path: '/metrics', keys: accounts.operator });
    t.equal(metrics.status, 200);
    t.match(metrics.type, /^text\/plain/);
    const depth = sample(metrics.body, 'mq_actor_mailbox_depth{address="store/commit_log",thread="1"}');
    t.ok(depth !== undefined && Number.isInteger(depth) && depth >= 0, `/metrics has the CommitLog writer's mailbox depth (${String(depth)})`);
    const unparsed = metrics.body.split('\n').filter((line) => line !== '' && !line.startsWith('#') && !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.]+(e[+-]?\d+)?|NaN|[+-]Inf)$/.test(line));
    t.same(unparsed, [], 'every sample line parses as Prometheus text');
    const restarted = await call(node, { ...restart(restarted_actor), keys: accounts.operator });
    t.same([restarted.status, JSON.parse(restarted.body)], [200, { restarted: restarted_actor }], 'the restart is done');
    const after = await until(`${restarted_actor} restarted once and running`, async () => {
      const actor = (await actorsOf(node, accounts.operator)).find((candidate) => candidate.address === restarted_actor);
      return actor?.restarts === 1 && actor.status === 'running' ? actor : undefined;
    });
    t.match(after.lastError, /restarted by an operator/);
  });

  await t.test('messages over HTTP: an admin account reads them (the node reads as its own account)', async (t) => {
    const operator = new Admin({ namesrv, instanceName: 'admin-acl-operator', accessKey: accounts.operator.accessKey, secretKey: accounts.operator.secretKey });
    t.teardown(() => operator.close());
    await until('the broker registered', async () => ((await operator.cluster()).groups.length === 1 ? true : undefined));
    await operator.createTopic({ topic: 'Audit', queues: 1 });
    const producer = new Producer({ namesrv, instanceName: 'admin-acl-producer', retries: 0, accessKey: accounts.operator.accessKey, secretKey: accounts.operator.secretKey });
    await producer.start();
    t.teardown(() => producer.shutdown());
    const sent = await producer.send({ topic: 'Audit', body: 'audited body', keys: ['audit-7'] });
    const by_id = await call(node, { path: `/api/messages/${sent.msgId}`, keys: accounts.operator });
    t.same([by_id.status, (JSON.parse(by_id.body) as { topic: string; bodyText: string }).bodyText], [200, 'audited body'], 'by id: the body');
    const by_key = await until('the key is indexed', async () => {
      const answer = await call(node, { path: '/api/messages?topic=Audit&key=audit-7', keys: accounts.operator });
      const parsed = JSON.parse(answer.body) as { messages?: Array<{ bodyText: string }> };
      return answer.status === 200 && parsed.messages?.length === 1 ? parsed : undefined;
    });
    t.same(by_key.messages?.map((message) => message.bodyText), ['audited body'], 'by key: the one message');
    const refused = await call(node, { path: `/api/messages/${sent.msgId}`, keys: accounts.viewer });
    t.equal(refused.status, 403, 'a non-admin account does not read it through the node');
  });

  await t.test('an ACL file edit applies without a restart', async (t) => {
    t.equal((await call(node, { path: '/api/actors', keys: second_admin })).status, 401, 'the second admin is not in the ACL yet');
    const edited = JSON.parse(readFileSync(acl_path, 'utf8')) as { accounts: Array<Record<string, unknown>> };
    edited.accounts.push(second_admin);
    for (const account of edited.accounts) if (account['accessKey'] === accounts.viewer.accessKey) account['admin'] = true;
    writeFileSync(acl_path, JSON.stringify(edited));
    await until('the second admin is let in', async () => ((await call(node, { path: '/api/actors', keys: second_admin })).status === 200 ? true : undefined));
    t.ok((await actorsOf(node, second_admin)).some((actor) => actor.address === 'store/commit_log'), 'the second admin reads the actors');
    t.equal((await call(node, { path: '/metrics', keys: accounts.viewer })).status, 200, 'the viewer, made admin in the same edit, too');
    t.equal((await call(node, { path: '/metrics', keys: accounts.operator })).status, 200, 'the first admin still does');
  });

  await t.test('mq-node inspect: --access-key with $MQ_SECRET_KEY', async (t) => {
    const once = await runCli(t, ['inspect', '--admin', admin_address, '--once', '--access-key', accounts.operator.accessKey], { MQ_SECRET_KEY: accounts.operator.secretKey });
    t.equal(once.code, 0, `exits 0 (stderr: ${once.stderr})`);
    t.match(once.stdout, /^\d+ actors on 2 threads/, 'the actors headline');
    t.match(once.stdout, /\n\s*1\s+store\/commit_log\s+commit_log\s+running\s/, 'the CommitLog writer on its thread');
    t.match(once.stdout, /store \(master\): CommitLog min 0, written \d+, flushed \d+/, 'the store line');

    const anonymous = await runCli(t, ['inspect', '--admin', admin_address, '--once']);
    t.equal(anonymous.code, 1, 'without keys: exit 1');
    t.same(anonymous.stderr.split('\n'), [`mq-node inspect: http://${admin_address}/api/actors needs an admin account (401: the node runs access control): give --access-key K with its secret in $MQ_SECRET_KEY`, ''], 'one line saying what to give');
    t.equal(anonymous.stdout, '', 'nothing printed as if it were the view');

    const wrong = await runCli(t, ['inspect', '--admin', admin_address, '--once', '--access-key', accounts.operator.accessKey], { MQ_SECRET_KEY: 'not-the-secret' });
    t.same([wrong.code, wrong.stderr], [1, `mq-node inspect: http://${admin_address}/api/actors refused access key "operator" (401: unknown, or not the secret in $MQ_SECRET_KEY)\n`], 'a wrong secret: one line');

    const forbidden = await runCli(t, ['inspect', '--admin', admin_address, '--once', '--access-key', accounts.remote_admin.accessKey], { MQ_SECRET_KEY: accounts.remote_admin.secretKey });
    t.equal(forbidden.code, 1);
    t.match(forbidden.stderr, /^mq-node inspect: http:\/\/\S+\/api\/actors refused account "remote-admin" \(403\): account "remote-admin" may not connect from \S+: add the address to its allowAddresses, or use another account\n$/, 'a 403: one line with the node\'s reason');

    const no_secret = await runCli(t, ['inspect', '--admin', admin_address, '--once', '--access-key', accounts.operator.accessKey]);
    t.same([no_secret.code, no_secret.stderr.split('\n')[0]], [2, 'mq-node inspect: --access-key needs its secret in $MQ_SECRET_KEY'], '--access-key without the secret is a usage error');
  });

  await t.test('a browser with the credentials runs the inspector page', { skip: existsSync(chromium_path) ? false : `no ${chromium_path}: install Debian's chromium to run the browser part` }, async (t) => {
    const browser = await chromium.launch({
      executablePath: chromium_path,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    t.teardown(() => browser.close());
    // (Without credentials, headless Chromium under Playwright cancels the prompt and fails
    // the navigation; the 401 and its challenge are checked over plain HTTP above.)
    // What a user types at the browser's prompt; the page's own fetch and EventSource calls
    // then carry it (same origin), with nothing in the page's code about credentials.
    const context = await browser.newContext({ httpCredentials: { username: accounts.operator.accessKey, password: accounts.operator.secretKey } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`http://${admin_address}/`);
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
    t.equal(await page.getByTestId('status-store/commit_log').textContent(), 'running', 'the actors arrive over EventSource');
    await page.getByTestId('brokers').locator('tbody tr').filter({ hasText: node.ready['broker'] as string }).waitFor();
    t.match(await page.getByTestId('brokers').textContent(), /master/, 'the cluster view (fetch, then the node\'s own signed requests) shows the broker');
    const before = (await actorsOf(node, accounts.operator)).find((actor) => actor.address === 'store/timing_wheel')?.restarts ?? -1;
    await page.getByTestId('restart-store/timing_wheel').click();
    await until('the page\'s restart (a POST from its script) reached the node', async () => (((await actorsOf(node, accounts.operator)).find((actor) => actor.address === 'store/timing_wheel')?.restarts ?? -1) === before + 1 ? true : undefined));
    t.pass('the restart button works behind Basic authentication');
  });
});
