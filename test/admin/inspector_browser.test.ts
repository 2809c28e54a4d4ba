import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { chromium, type Browser } from 'playwright-core';
import { Consumer } from '../../src/client/index.js';
import { until } from '../client/client_helpers.js';
import { startCountedTopic } from './fixtures/counted_topic.js';

/**
 * The inspector page in a real browser (Debian's Chromium, driven by Playwright) against a
 * standalone node that stored real messages: the actors appear per thread, the store panel
 * shows each queue's messages, and the restart button restarts an actor, which the page then
 * shows with its restart and the reason. A screenshot is kept in test-artifacts/.
 *
 * Needs /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it); skips without.
 */

const chromium_path = '/usr/bin/chromium';
const artifacts_dir = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const messages = 120;
const queues = 3;
const ui_timeout_ms = 15_000;

t.test('the inspector shows actors, store, cluster, group lag and a message, and restarts an actor when asked', { skip: existsSync(chromium_path) ? false : `no ${chromium_path}: install Debian's chromium (apt-get install chromium) to run the browser test` }, async (t) => {
  const counted = await startCountedTopic(t, 'Browsed', queues);
  const { node, per_queue, sent_ids } = counted;
  const send = (body: string): Promise<void> => counted.send(body, ['k-browse']);
  for (let index = 0; index < messages; index++) await send(`message ${index}`);
  // A group consumes everything, stops; then more arrive: its lag is exactly those.
  const consumer = new Consumer({ namesrv: node.namesrv, group: 'browsing', subscriptions: [{ topic: 'Browsed' }], fromWhere: 'first' });
  let consumed = 0;
  consumer.onMessage(async () => {
    consumed++;
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  await until('the group consumed every message', () => (consumed >= messages ? true : undefined));
  await consumer.shutdown();
  const unconsumed = 9;
  for (let index = 0; index < unconsumed; index++) await send(`late ${index}`);
  // A second group keeps running and reads everything: the page shows which queues it reads.
  const watcher = new Consumer({ namesrv: node.namesrv, group: 'watching', subscriptions: [{ topic: 'Browsed' }], fromWhere: 'first', rebalanceIntervalMs: 500, commitIntervalMs: 500 });
  let watched = 0;
  watcher.onMessage(async () => {
    watched++;
  });
  t.teardown(() => watcher.shutdown());
  await watcher.start();
  await until('the watching group read every message', () => (watched >= messages + unconsumed ? true : undefined));

  const browser: Browser = await chromium.launch({
    executablePath: chromium_path,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.setDefaultTimeout(ui_timeout_ms);
  await page.goto(`http://${node.node.ready['admin'] as string}/`);
  await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor();

  t.equal(await page.getByTestId('status-store/commit_log').textContent(), 'running', 'the CommitLog writer is listed, running');
  t.ok(await page.getByTestId('thread-1').isVisible(), 'thread 1 has its column');
  t.ok(await page.getByTestId('thread-2').isVisible(), 'thread 2 has its column');
  t.match(await page.getByTestId('supervision').textContent(), /^node \(main thread.*├─ thread 1 supervisor: \d+ actors \(\d+ running\)└─ thread 2 supervisor: \d+ actors \(\d+ running\)$/, 'the supervision tree: the node, then each thread\'s supervisor with its actors');

  const queue_rows = async (): Promise<string[][]> =>
    page.getByTestId('queues').locator('tbody tr').evaluateAll((rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent ?? '')));
  const expected = per_queue.map((count, queue_id) => ['Browsed', String(queue_id), '0', String(count)]);
  // (per_queue counts every send, the late ones too)
  const shown = await until('the queues of Browsed in the store panel', async () => {
    const rows = (await queue_rows()).filter((row) => row[0] === 'Browsed');
    return JSON.stringify(rows) === JSON.stringify(expected) ? rows : undefined;
  }, ui_timeout_ms);
  t.same(shown, expected, 'each queue shows the messages the producer sent to it');

  // Cluster, groups and a message, read through the nameserver and the broker.
  await page.getByTestId('brokers').locator('tbody tr').filter({ hasText: node.broker }).waitFor();
  t.match(await page.getByTestId('brokers').textContent(), /master/, 'the broker is listed as a master');
  const broker_cells = await page.getByTestId('brokers').locator('tbody tr').filter({ hasText: node.broker }).locator('td').allTextContents();
  t.ok(Number(broker_cells[7]) > 0, `its CommitLog end is shown (${broker_cells[7] ?? '?'})`);
  t.equal(broker_cells[8], '-', 'a master is behind no one');
  const topic_rows = await page.getByTestId('topics').locator('tbody tr').filter({ hasText: 'Browsed' }).allTextContents();
  t.equal(topic_rows.length, 1, 'the topic is listed once for its one broker group');
  t.match(topic_rows[0] ?? '', new RegExp(`Browsed.*${queues}${queues}rw`), 'with its read and write queues and permissions');
  await page.locator('#groups-status').filter({ hasText: `2 groups, total lag ${unconsumed}` }).waitFor();
  t.pass(`the group browsing shows a total lag of ${unconsumed}, the running group watching none`);
  const expected_queues = watcher.assignedQueues().map((queue) => `${queue.topic}@${queue.brokerName}#${queue.queueId}`).sort();
  t.equal(expected_queues.filter((queue) => queue.startsWith('Browsed@')).length, queues, 'the one watcher holds every queue of the topic');
  const member_queues = await until('the watcher and its queues in the members table', async () => {
    const rows = await page.getByTestId('group-members').locator('tbody tr').filter({ hasText: watcher.clientId }).locator('td').allTextContents();
    const shown = (rows[4] ?? '').split(' ').sort();
    return rows[0] === 'watching' && JSON.stringify(shown) === JSON.stringify(expected_queues) ? shown : undefined;
  }, ui_timeout_ms);
  t.same(member_queues, expected_queues, 'the members table: the watcher reads the queues its consumer says it holds');
  const read_by = await page.getByTestId('groups').locator('tbody tr').filter({ hasText: 'watching' }).filter({ hasText: 'Browsed' }).locator('td:nth-child(6)').allTextContents();
  t.same(read_by, Array<string>(queues).fill(watcher.clientId), 'the lag table says who reads each queue');
  const last_id = sent_ids.at(-1) as string;
  await page.getByTestId('message-id').fill(last_id);
  await page.getByTestId('message-lookup').click();
  await page.getByTestId('message-body').waitFor();
  t.equal(await page.getByTestId('message-body').textContent(), `late ${unconsumed - 1}`, 'a looked-up message shows its body');
  t.equal(await page.getByTestId('message-keys').textContent(), 'k-browse', 'and its keys');
  await page.getByTestId('message-id').fill('not-an-id');
  await page.getByTestId('message-lookup').click();
  t.match(await page.getByTestId('message-error').textContent(), /is not a message id/, 'a bad id is answered with the reason');
  await page.getByTestId('key-topic').fill('Browsed');
  await page.getByTestId('key-value').fill('k-browse');
  await page.getByTestId('key-lookup').click();
  await page.getByTestId('key-summary').waitFor();
  t.equal(await page.getByTestId('key-summary').textContent(), '32 message(s) with key k-browse in Browsed, newest first', 'by key: the 32 newest of the topic\'s messages with the key');
  t.equal(await page.getByTestId('key-message-0-body').textContent(), `late ${unconsumed - 1}`, 'the newest first');
  t.equal(await page.getByTestId('key-message-31-body').textContent(), `message ${messages + unconsumed - 32}`, 'the 32nd newest last');
  await page.getByTestId('key-row-1').locator('button').click();
  await page.getByTestId('message-body').filter({ hasText: `late ${unconsumed - 2}` }).waitFor();
  t.equal(await page.getByTestId('message-msgId').textContent(), sent_ids.at(-2), 'its id shows the whole message above');

  // The charts: totals as the broker counted them, and the lag the group has.
  // Out counts what PULL returned: at least every message once (a re-pull returns some again).
  const traffic_line = new RegExp(`^in total: ${messages + unconsumed} messages in, (\\d+) out; lag now ${unconsumed}$`);
  await page.getByTestId('traffic-now').filter({ hasText: traffic_line }).waitFor();
  const pulled = Number(traffic_line.exec((await page.getByTestId('traffic-now').textContent()) ?? '')?.[1]);
  t.ok(pulled >= messages, `the traffic line: ${messages + unconsumed} in, ${pulled} out (at least the ${messages} consumed), lag ${unconsumed}`);
  t.equal(await page.locator('#rate-chart canvas').count(), 1, 'the rate chart is drawn');
  t.equal(await page.locator('#lag-chart canvas').count(), 1, 'the lag chart is drawn');

  page.on('dialog', (dialog) => void dialog.accept());
  await page.getByTestId('restart-store/offsets').click();
  await page.getByTestId('restarts-store/offsets').filter({ hasText: /^1$/ }).waitFor();
  t.equal(await page.getByTestId('status-store/offsets').textContent(), 'running', 'back to running after the restart');
  t.match(await page.getByTestId('actor-store/offsets').textContent(), /restarted by an operator/, 'the reason is shown as its last error');
  const restarted = (await (await fetch(`http://${node.node.ready['admin'] as string}/api/actors`)).json()) as { actors: Array<{ address: string; restarts: number }> };
  t.equal(restarted.actors.find((actor) => actor.address === 'store/offsets')?.restarts, 1, 'the node agrees: one restart');

  // A drill (the test hook): the actor is held down 3 s, long enough for the page to show it.
  const drill = await fetch(`http://${node.node.ready['admin'] as string}/api/actors/restart?address=store%2Ftiming_wheel&holdMs=3000`, {
    method: 'POST', headers: { 'x-mq-confirm': 'restart store/timing_wheel' },
  });
  t.equal(drill.status, 200, 'the drill restart is accepted');
  await page.locator('tr.restarting[data-testid="actor-store/timing_wheel"]').waitFor();
  t.equal(await page.getByTestId('status-store/timing_wheel').textContent(), 'restarting', 'the page shows it restarting, in its restarting colour');
  t.ok(await page.getByTestId('restart-store/timing_wheel').isDisabled(), 'its restart button is off meanwhile');
  await page.getByTestId('restarts-store/timing_wheel').filter({ hasText: /^1$/ }).waitFor();
  t.equal(await page.getByTestId('status-store/timing_wheel').textContent(), 'running', 'and running again after the hold');

  mkdirSync(artifacts_dir, { recursive: true });
  await page.screenshot({ path: path.join(artifacts_dir, 'inspector.png'), fullPage: true });
});
