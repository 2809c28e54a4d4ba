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

function drawActors(actors) {
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

function draw() {
  if (latest === null) return;
  drawActors(latest.actors);
  drawStore(latest.store);
  document.getElementById('updated').textContent = `updated ${new Date(latest.atMs).toLocaleTimeString()}${latest.actorsError ? ` — actors unavailable: ${latest.actorsError}` : ''}`;
}

sort_element.addEventListener('change', draw);
const events = new EventSource('/api/events');
events.addEventListener('snapshot', (event) => {
  latest = JSON.parse(event.data);
  connection_element.textContent = 'live';
  connection_element.className = 'badge live';
  draw();
});
events.addEventListener('error', () => {
  connection_element.textContent = 'disconnected (retrying)';
  connection_element.className = 'badge down';
});
