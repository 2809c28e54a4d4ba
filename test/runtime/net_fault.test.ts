import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';

/**
 * The network fault hook (runtime/net_fault.ts), as a chaos run's node has it: connections
 * dialled through tls_dial.ts under MQ_NET_FAULT_FILE move no byte either way while the file
 * exists, new ones stall the same, the node's own pause/resume cannot undo it, and when the
 * file goes every held byte arrives, in order. The peer here is a plain server without the
 * hook: the other side of a partition.
 */

const fault_dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mq-net-fault-'));
t.teardown(() => fs.rmSync(fault_dir, { recursive: true, force: true }));
const fault_file = path.join(fault_dir, 'node-0');
process.env['MQ_NET_FAULT_FILE'] = fault_file;
// Imported after the variable is set (and nothing above imports them): the hook reads it
// once, when loaded.
const { dialSocket } = await import('../../src/tls/tls_dial.js');
const { netFaultCut } = await import('../../src/runtime/net_fault.js');
const { until } = await import('../client/client_helpers.js');

/** A peer outside the partition: records what each connection sends, and can write to it. */
async function peer(t: Test): Promise<{ port: number; received: string[]; sockets: net.Socket[] }> {
  const received: string[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.setEncoding('utf8').on('data', (text: string) => received.push(text));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, received, sockets };
}

async function dial(t: Test, port: number): Promise<{ socket: net.Socket; received: string[] }> {
  const { socket, ready_event } = dialSocket('127.0.0.1', port, undefined);
  t.teardown(() => socket.destroy());
  const received: string[] = [];
  socket.setEncoding('utf8').on('data', (text: string) => received.push(text));
  await new Promise((resolve) => socket.once(ready_event, resolve));
  return { socket, received };
}

/** Waits `window_ms`: the span over which "nothing arrives" is checked. */
async function after(window_ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, window_ms));
}

t.test('cut: no byte either way, on old and new connections, whatever the node pauses or resumes; healed: every held byte, in order', async (t) => {
  const server = await peer(t);
  const old = await dial(t, server.port);
  old.socket.write('before|');
  await until('the peer got the first write', () => (server.received.join('') === 'before|' ? true : undefined));
  server.sockets[0]?.write('hello|');
  await until('the node got the peer\'s write', () => (old.received.join('') === 'hello|' ? true : undefined));

  fs.writeFileSync(fault_file, '');
  await until('the hook holds the connections', () => (netFaultCut() ? true : undefined));
  old.socket.write('during-1|');
  old.socket.write('during-2|');
  server.sockets[0]?.write('to-node|');
  const fresh = await dial(t, server.port);
  await until('the peer accepted the new connection', () => (server.sockets.length === 2 ? true : undefined));
  fresh.socket.write('fresh|');
  server.sockets[1]?.write('to-fresh|');
  // The node's own back-pressure calls: a resume must not open the partition.
  old.socket.pause();
  old.socket.resume();
  await after(400);
  t.same(server.received, ['before|'], 'the peer got nothing more while cut');
  t.same(old.received, ['hello|'], 'the node got nothing on the old connection');
  t.same(fresh.received, [], 'nor on the new one');

  fs.rmSync(fault_file);
  await until('the peer got every held write, in order', () => (server.received.join('').length === 'before|during-1|during-2|fresh|'.length ? true : undefined));
  const by_connection = server.received.join('');
  t.ok(by_connection.startsWith('before|') && by_connection.includes('during-1|during-2|') && by_connection.includes('fresh|'), `held writes delivered in order: ${by_connection}`);
  await until('the node got what the peer wrote while cut', () => (old.received.join('') === 'hello|to-node|' && fresh.received.join('') === 'to-fresh|' ? true : undefined));
  t.notOk(netFaultCut(), 'healed');
  t.notOk(old.socket.destroyed || fresh.socket.destroyed, 'no connection was reset');
});

t.test('a connection the node paused itself stays paused after the heal', async (t) => {
  const server = await peer(t);
  const node = await dial(t, server.port);
  node.socket.pause();
  fs.writeFileSync(fault_file, '');
  await until('cut', () => (netFaultCut() ? true : undefined));
  server.sockets[0]?.write('waits|');
  fs.rmSync(fault_file);
  await until('healed', () => (netFaultCut() ? undefined : true));
  await after(300);
  t.same(node.received, [], 'still paused by the node: nothing delivered');
  node.socket.resume();
  await until('delivered once the node resumes', () => (node.received.join('') === 'waits|' ? true : undefined));
});
