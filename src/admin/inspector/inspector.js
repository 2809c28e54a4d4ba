// The inspector page: one EventSource on /api/events, a snapshot per second, drawn with
// plain DOM calls (no framework, no build step). Text goes in with textContent only.

const threads_element = document.getElementById('threads');
const sort_element = document.getElementById('sort');
const connection_element = document.getElementById('connection');
let latest = null;

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'text') node.textContent = String(value);
    else if (name === 'class') node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

function table(target, headers, rows, numeric = []) {
  target.replaceChildren(
    element('thead', {}, [element('tr', {}, headers.map((header, index) => element('th', { text: header, class: numeric.includes(index) ? 'number' : '' })))]),
    element('tbody', {}, rows.map((row) => element('tr', {}, row.map((cell, index) => element('td', { text: cell, class: numeric.includes(index) ? 'number' : '' }))))),
  );
}

function sortActors(actors) {
  const key = sort_element.value;
  return [...actors].sort((a, b) => (key === 'address' ? a.address.localeCompare(b.address) : b[key] - a[key] || a.address.localeCompare(b.address)));
}

async function restart(address) {
  if (!window.confirm(`Restart actor ${address}? Its instance stops and a new one starts; its mailbox waits meanwhile.`)) return;
  const response = await fetch(`/api/actors/restart?address=${encodeURIComponent(address)}`, { method: 'POST', headers: { 'x-mq-confirm': `restart ${address}` } });
  if (!response.ok) window.alert(`Restart of ${address} failed: ${(await response.json()).error}`);
}

/** The supervision tree: the node's main thread supervises the worker threads (a dead one is
 *  replaced), and each thread's supervisor restarts its own actors. */
function drawSupervision(actors) {
  const threads = [...new Set(actors.map((actor) => actor.thread))].sort((a, b) => a - b);
  const lines = ['node (main thread: listeners, admin server; supervises the worker threads)'];
  threads.forEach((thread, index) => {
    const own = actors.filter((actor) => actor.thread === thread);
    const counts = {};
    for (const actor of own) counts[actor.status] = (counts[actor.status] ?? 0) + 1;
    const summary = Object.entries(counts).map(([status, count]) => `${count} ${status}`).join(', ');
    lines.push(`${index === threads.length - 1 ? '└─' : '├─'} thread ${thread} supervisor: ${own.length} actors (${summary})`);
  });
  document.getElementById('supervision').replaceChildren(...lines.map((text, index) => element('li', { text, 'data-testid': `supervision-${index}` })));
}

function drawActors(actors) {
  drawSupervision(actors);
  document.getElementById('actor-count').textContent = `${actors.length} on ${new Set(actors.map((actor) => actor.thread)).size} threads`;
  const by_thread = new Map();
  for (const actor of sortActors(actors)) {
    if (!by_thread.has(actor.thread)) by_thread.set(actor.thread, []);
    by_thread.get(actor.thread).push(actor);
  }
  const columns = [...by_thread.keys()].sort((a, b) => a - b).map((thread) => {
    const rows = by_thread.get(thread).map((actor) => {
      const button = element('button', { text: 'restart', 'data-testid': `restart-${actor.address}` });
      button.disabled = actor.status !== 'running';
      button.addEventListener('click', () => void restart(actor.address));
      return element('tr', { class: actor.status, 'data-testid': `actor-${actor.address}` }, [
        element('td', { text: actor.address }),
        element('td', { text: actor.kind }),
        element('td', { class: `status ${actor.status}`, text: actor.status, 'data-testid': `status-${actor.address}` }),
        element('td', { class: 'number', text: actor.mailboxDepth }),
        element('td', { class: 'number', text: Math.round(actor.ratePerSecond) }),
        element('td', { class: 'number', text: Math.round(actor.busyMs) }),
        element('td', { class: 'number', text: actor.restarts, 'data-testid': `restarts-${actor.address}` }),
        element('td', { class: 'error', text: actor.lastError ?? '' }),
        element('td', {}, [button]),
      ]);
    });
    const head = element('tr', {}, ['address', 'kind', 'status', 'mailbox', 'msg/s', 'busy ms', 'restarts', 'last error', ''].map((text) => element('th', { text })));
    return element('div', { class: 'thread', 'data-testid': `thread-${thread}` }, [
      element('h3', { text: thread === 0 ? 'main thread' : `thread ${thread}` }),
      element('table', {}, [element('thead', {}, [head]), element('tbody', {}, rows)]),
    ]);
  });
  threads_element.replaceChildren(...columns);
}

function drawStore(store) {
  const section = document.getElementById('store-section');
  section.hidden = store === null;
  if (store === null) return;
  if (store.error !== undefined) {
    document.getElementById('commit-log').textContent = `store unavailable: ${store.error}`;
    return;
  }
  const log = store.commitLog;
  document.getElementById('commit-log').textContent =
    `${store.role}: CommitLog min ${log.minOffset}, written ${log.writeOffset}, flushed ${log.flushOffset}` +
    (store.role === 'master' ? `, replicated ${log.replicatedOffset} (${log.replicasInSync} slaves in sync)` : '');
  table(document.getElementById('segments'), ['file', 'start offset', 'size', 'written', 'flushed'],
    log.segments.map((segment) => [segment.file, segment.startOffset, segment.sizeBytes, segment.writtenBytes, segment.flushedBytes]), [1, 2, 3, 4]);
  table(document.getElementById('queues'), ['topic', 'queue', 'min offset', 'max offset'],
    store.queues.map((queue) => [queue.topic, queue.queueId, queue.minOffset, queue.maxOffset]), [1, 2, 3]);
  table(document.getElementById('disks'), ['directory', 'free', 'total'],
    store.disks.map((disk) => [disk.dir, `${(disk.freeBytes / 2 ** 30).toFixed(1)} GiB`, `${(disk.totalBytes / 2 ** 30).toFixed(1)} GiB`]), [1, 2]);
}

// Charts: rates from successive totals (one snapshot a second), the last five minutes.
const chart_points_max = 300;
const series = { at: [], in: [], out: [], lag: [] };
let previous_totals = null;
let rate_chart = null;
let lag_chart = null;

function chart(target, title, labels, colours) {
  return new window.uPlot({
    title, width: 560, height: 220,
    series: [{}, ...labels.map((label, index) => ({ label, stroke: colours[index], width: 2 }))],
    axes: [{}, { size: 60 }],
  }, [[], ...labels.map(() => [])], target);
}

function addTotals(snapshot) {
  const totals = snapshot.totals;
  if (totals === undefined) return;
  document.getElementById('traffic-section').hidden = false;
  if (previous_totals !== null) {
    const seconds = Math.max(0.001, (snapshot.atMs - previous_totals.atMs) / 1000);
    series.at.push(snapshot.atMs / 1000);
    series.in.push(Math.max(0, (totals.messagesIn - previous_totals.messagesIn) / seconds));
    series.out.push(Math.max(0, (totals.messagesOut - previous_totals.messagesOut) / seconds));
    series.lag.push(totals.lag);
    for (const values of Object.values(series)) if (values.length > chart_points_max) values.shift();
  }
  previous_totals = { ...totals, atMs: snapshot.atMs };
  if (window.uPlot === undefined) return;
  rate_chart ??= chart(document.getElementById('rate-chart'), 'messages/s', ['in', 'out'], ['#2b6cb0', '#2f855a']);
  lag_chart ??= chart(document.getElementById('lag-chart'), 'consumer lag (messages, all groups)', ['lag'], ['#c05621']);
  rate_chart.setData([series.at, series.in, series.out]);
  lag_chart.setData([series.at, series.lag]);
  document.getElementById('traffic-now').textContent =
    `in total: ${totals.messagesIn} messages in, ${totals.messagesOut} out; lag now ${totals.lag ?? 'unknown'}`;
}

function draw() {
  if (latest === null) return;
  drawActors(latest.actors);
  drawStore(latest.store);
  document.getElementById('updated').textContent = `updated ${new Date(latest.atMs).toLocaleTimeString()}${latest.actorsError ? ` — actors unavailable: ${latest.actorsError}` : ''}`;
}

// The cluster and the groups are read through the nameservers and brokers: heavier than the
// node's own actors and store, so they are polled every few seconds instead of streamed.
const cluster_poll_ms = 5_000;

async function getJson(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? `${path} answered ${response.status}`);
  return body;
}

function agoText(at_ms) {
  return `${Math.max(0, (Date.now() - at_ms) / 1000).toFixed(1)} s ago`;
}

async function drawCluster() {
  const status = document.getElementById('cluster-status');
  try {
    const cluster = await getJson('/api/cluster');
    table(document.getElementById('nameservers'), ['nameserver', 'role', 'replication', 'term', 'leader', 'last seq', 'commit seq'],
      cluster.nameservers.map((entry) => entry.status === null
        ? [entry.address, 'unreachable', '', '', '', '', entry.error ?? '']
        : [entry.address, entry.status.role, entry.status.mode, entry.status.term, entry.status.leader || '-', entry.status.lastSeq, entry.status.commitSeq]), [3, 5, 6]);
    table(document.getElementById('brokers'), ['cluster', 'broker group', 'id', 'role', 'address', 'epoch', 'last heartbeat', 'commitlog end', 'bytes behind'],
      cluster.brokers.groups.flatMap((group) => group.members.map((member) =>
        [group.cluster, group.brokerName, member.brokerId, member.brokerId === 0 ? 'master' : 'slave', member.address, member.epoch, agoText(member.lastHeartbeatMs),
          member.maxOffset, member.brokerId === 0 || member.replicationLagBytes === null ? '-' : `${member.replicationLagBytes}${member.inSync ? '' : ' (not in sync)'}`])), [2, 5, 7, 8]);
    table(document.getElementById('topics'), ['topic', 'broker group', 'read queues', 'write queues', 'perm'],
      cluster.topics.flatMap((route) => route.queues.map((queue) =>
        [route.topic, queue.brokerName, queue.readQueues, queue.writeQueues, `${queue.perm & 4 ? 'r' : '-'}${queue.perm & 2 ? 'w' : '-'}`])), [2, 3]);
    status.textContent = cluster.topicsLeftOut > 0 ? `(${cluster.topicsLeftOut} more topics not shown)` : '';
  } catch (error) {
    status.textContent = `unavailable: ${error.message}`;
  }
}

async function drawGroups() {
  const status = document.getElementById('groups-status');
  try {
    const listing = await getJson('/api/groups');
    table(document.getElementById('group-members'), ['group', 'member', 'last heartbeat', 'subscriptions', 'queues read'],
      listing.groups.flatMap((group) => group.memberDetails.map((member) =>
        [group.group, member.clientId, member.lastHeartbeatMs === 0 ? '-' : agoText(member.lastHeartbeatMs),
          member.subscriptions.map((subscription) => `${subscription.topic} (${subscription.expression})`).join(', '),
          member.queues.length === 0 ? (member.assignmentKnown ? 'none' : 'unknown (protocol 1 client or broker)') : member.queues.map((queue) => `${queue.topic}@${queue.brokerName}#${queue.queueId}`).join(' ')])), []);
    table(document.getElementById('groups'), ['group', 'members', 'topic', 'broker group', 'queue', 'read by', 'broker offset', 'consumer offset', 'lag'],
      listing.groups.flatMap((group) => {
        const reader = new Map(group.memberDetails.flatMap((member) => member.queues.map((queue) => [`${queue.topic}@${queue.brokerName}#${queue.queueId}`, member.clientId])));
        return group.lag.queues.map((queue) =>
          [group.group, group.members.length, queue.topic, queue.brokerName, queue.queueId, reader.get(`${queue.topic}@${queue.brokerName}#${queue.queueId}`) ?? '-',
            queue.brokerOffset, queue.consumerOffset < 0 ? '-' : queue.consumerOffset, queue.lag]);
      }), [1, 4, 6, 7, 8]);
    status.textContent = `${listing.groups.length} groups, total lag ${listing.groups.reduce((sum, group) => sum + group.lag.lag, 0)}` +
      (listing.groupsLeftOut > 0 ? ` (${listing.groupsLeftOut} more not shown)` : '') +
      (listing.groups.some((group) => group.membersLeftOut > 0) ? ' (some groups have more members than a broker lists)' : '');
  } catch (error) {
    status.textContent = `unavailable: ${error.message}`;
  }
}

function messageFields(message) {
  return [
      ['msgId', message.msgId], ['topic', message.topic], ['tag', message.tag ?? '-'], ['keys', message.keys.join(' ') || '-'],
      ['properties', JSON.stringify(message.properties)], ['broker', `${message.brokerName} queue ${message.queueId} offset ${message.queueOffset}`],
      ['stored', `${new Date(message.storeTimestamp).toISOString()} on ${message.storeHost}`], ['born', `${new Date(message.bornTimestamp).toISOString()} from ${message.bornHost}`],
      ['reconsume times', message.reconsumeTimes], ['body bytes', message.bodyBytes],
    [message.bodyText === null ? 'body (hex)' : 'body', (message.bodyText ?? message.bodyHex) + (message.bodyTruncated ? ' …' : '')],
  ];
}

/** One message as a two-column table; `test_prefix` names its cells for the browser test. */
function messageTable(message, test_prefix) {
  return element('table', {}, messageFields(message).map(([key, value]) =>
    element('tr', {}, [element('th', { text: key }), element('td', { text: value, 'data-testid': `${test_prefix}-${key.replace(/ \(hex\)$/, '').replace(/ /g, '-')}` })])));
}

const key_body_preview_chars = 80;

async function lookUpMessage(event) {
  event?.preventDefault();
  const target = document.getElementById('message');
  const id = document.getElementById('message-id').value.trim();
  try {
    target.replaceChildren(messageTable(await getJson(`/api/messages/${encodeURIComponent(id)}`), 'message'));
  } catch (error) {
    target.replaceChildren(element('p', { class: 'error', text: error.message, 'data-testid': 'message-error' }));
  }
}

async function queryMessages(event) {
  event.preventDefault();
  const target = document.getElementById('key-messages');
  const topic = document.getElementById('key-topic').value.trim();
  const key = document.getElementById('key-value').value.trim();
  try {
    const found = await getJson(`/api/messages?topic=${encodeURIComponent(topic)}&key=${encodeURIComponent(key)}`);
    const summary = `${found.messages.length} message(s) with key ${key} in ${topic}, newest first` +
      (found.unanswered.length > 0 ? `; not asked: ${found.unanswered.join('; ')}` : '');
    // One row a message; its id shows the whole message in the panel above.
    const rows = found.messages.map((message, index) => {
      const id_button = element('button', { text: message.msgId, class: 'link', title: 'show this message above' });
      id_button.addEventListener('click', () => {
        document.getElementById('message-id').value = message.msgId;
        void lookUpMessage();
      });
      const body = message.bodyText === null ? `(hex) ${message.bodyHex}` : message.bodyText;
      const cells = [new Date(message.storeTimestamp).toISOString(), `${message.brokerName} #${message.queueId}`, message.queueOffset, message.keys.join(' '),
        body.length > key_body_preview_chars ? `${body.slice(0, key_body_preview_chars)} …` : body];
      return element('tr', { 'data-testid': `key-row-${index}` }, [element('td', {}, [id_button]),
        ...cells.map((cell, column) => element('td', column === cells.length - 1 ? { text: cell, 'data-testid': `key-message-${index}-body` } : { text: cell }))]);
    });
    const headers = ['msgId', 'stored', 'queue', 'offset', 'keys', 'body'];
    target.replaceChildren(element('p', { text: summary, 'data-testid': 'key-summary' }),
      element('table', {}, [element('thead', {}, [element('tr', {}, headers.map((header) => element('th', { text: header })))]), element('tbody', {}, rows)]));
  } catch (error) {
    target.replaceChildren(element('p', { class: 'error', text: error.message, 'data-testid': 'key-error' }));
  }
}

document.getElementById('message-form').addEventListener('submit', (event) => void lookUpMessage(event));
document.getElementById('key-form').addEventListener('submit', (event) => void queryMessages(event));
// Each poll starts only after the previous one answered: a slow cluster is not asked faster
// than it can say.
function poll(draw_view) {
  void draw_view().finally(() => setTimeout(() => poll(draw_view), cluster_poll_ms));
}
poll(drawCluster);
poll(drawGroups);

sort_element.addEventListener('change', draw);
const events = new EventSource('/api/events');
events.addEventListener('snapshot', (event) => {
  latest = JSON.parse(event.data);
  addTotals(latest);
  connection_element.textContent = 'live';
  connection_element.className = 'badge live';
  draw();
});
events.addEventListener('error', () => {
  connection_element.textContent = 'disconnected (retrying)';
  connection_element.className = 'badge down';
});
