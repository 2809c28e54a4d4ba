import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { FaultHookNetwork, loopback_network, NamespaceNetwork } from '../../src/chaos/chaos_network.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { namespacesAvailable } from './chaos_fixtures.js';

/**
 * The chaos run's networks. Loopback: every node on 127.0.0.1, nothing to cut. Fault hook:
 * every node on 127.0.0.1 with a fault file of its own, which a cut makes (the node's side is
 * test/runtime/net_fault.test.ts). Namespaces
 * (root and iproute2 only): a real network of two nodes, each in a namespace of its own; a
 * TCP server runs inside node 0's, and the test connects to it from here before, during and
 * after a cut. The network is made for a pid no real run has (987654), so its names do not
 * meet a run's; every teardown removes what the test made, even after a failed assertion.
 */

const network_test = {
  /** Names the namespaces, links and subnet; not this process's pid, so no real run's. */
  pid: 987_654,
  /** A cut node must not answer within this. */
  cut_connect_timeout_ms: 1_000,
  /** A reachable node answers within this (a lost first SYN is sent again after 1 s). */
  connect_timeout_ms: 5_000,
  /** The kernel frees a deleted namespace's links in the background. */
  links_gone_timeout_ms: 5_000,
} as const;

t.setTimeout(60_000);

t.test('loopback: every node on 127.0.0.1, run as asked, never cut', async (t) => {
  t.equal(loopback_network.kind, 'loopback');
  t.same([0, 1, 7].map((index) => loopback_network.hostOf(index)), ['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  const argv = ['/usr/bin/node', 'bin/mq-node.js', '--role', 'broker'];
  const command = loopback_network.commandOf(3, argv);
  t.same(command, { file: '/usr/bin/node', args: ['bin/mq-node.js', '--role', 'broker'] }, 'argv unchanged: the program, then its arguments');
  command.args.push('--extra');
  t.same(argv, ['/usr/bin/node', 'bin/mq-node.js', '--role', 'broker'], 'the caller\'s argv is not shared with the command');
  t.throws(() => loopback_network.cut(0), /a loopback network cannot be partitioned/);
  t.equal(loopback_network.heal(0), undefined);
  t.equal(loopback_network.destroy(), undefined);
});

t.test('fault hook: every node on 127.0.0.1, started with its own fault file, which a cut makes and a heal removes', async (t) => {
  const dir = path.join(tempDir(t), 'net-faults');
  const network = new FaultHookNetwork(dir);
  t.equal(network.kind, 'hook');
  t.match(network.cut_description, /network fault hook/);
  t.equal(network.hostOf(), '127.0.0.1');
  const command = network.commandOf(2, ['/usr/bin/node', 'bin/mq-node.js', '--role', 'namesrv']);
  t.same([command.file, command.args], ['/usr/bin/node', ['bin/mq-node.js', '--role', 'namesrv']]);
  const fault_file = command.env['MQ_NET_FAULT_FILE'] as string;
  t.equal(fault_file, path.join(dir, 'node-2'), 'node 2 watches its own file');
  t.equal(command.env['PATH'], process.env['PATH'], 'the rest of the environment is passed on');
  t.notOk(existsSync(fault_file), 'not cut at start');
  await network.cut(2);
  t.ok(existsSync(fault_file), 'cut: the file exists');
  t.notOk(existsSync(path.join(dir, 'node-1')), 'no other node is cut');
  network.heal(2);
  t.notOk(existsSync(fault_file), 'healed: gone');
  await network.cut(1);
  network.destroy();
  t.notOk(existsSync(dir), 'destroy removes the directory, files and all');
});

type Attempt = { connected: true; data: string } | { connected: false; reason: string };

/** Connects to host:port and reads until the server ends the connection, or gives up after `timeout_ms`. */
function tryConnect(host: string, port: number, timeout_ms: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let connected = false;
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(connected ? { connected: true, data } : { connected: false, reason: `no connection within ${timeout_ms} ms` });
    }, timeout_ms);
    socket.setEncoding('utf8');
    socket.on('connect', () => (connected = true));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ connected: false, reason: error.code ?? error.message });
    });
    socket.on('end', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ connected, data } as Attempt);
    });
  });
}

/** Lines of `ip netns list` naming one of this test's namespaces. */
function testNamespaces(tag: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((line) => line.startsWith(`mqc-${tag}-`));
}

/** Lines of `ip -o link show` naming one of this test's links (bridge or veth). */
function testLinks(tag: string): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').filter((line) => line.includes(`mqc${tag}`));
}

const server_script = `
const server = require('node:net').createServer((socket) => socket.end('hello from ' + process.argv[1] + '\\n'));
server.listen(0, process.argv[1], () => console.log('port ' + server.address().port));
`;

t.test('namespaces: a node reachable at its address, unreachable while cut, reachable when healed; destroy leaves nothing', async (t) => {
  if (!namespacesAvailable()) {
    t.comment('skipped: network namespaces cannot be made here (ip netns add needs root and iproute2)');
    return;
  }
  const tag = network_test.pid.toString(36);
  const servers: ChildProcess[] = [];
  let network: NamespaceNetwork | undefined;
  // One teardown, in this order: a process left in a namespace would keep its links alive.
  t.teardown(() => {
    for (const server of servers) {
      try {
        if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) process.kill(server.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    network?.destroy();
  });

  network = NamespaceNetwork.create(2, network_test.pid);
  t.equal(network.kind, 'netns');
  // `ip netns list` prints `<name> (id: N)` once a namespace has an id.
  t.same(testNamespaces(tag).map((line) => line.split(' ')[0]).sort(), [`mqc-${tag}-0`, `mqc-${tag}-1`], 'a namespace per node');
  t.doesNotThrow(() => execFileSync('ip', ['link', 'show', `mqc${tag}br`], { stdio: 'ignore' }), 'the bridge exists');
  // 987654: subnet 10.(100 + floor(987654 / 256) % 150).(987654 % 256).0/24.
  t.same([network.hostOf(0), network.hostOf(1)], ['10.208.6.10', '10.208.6.11']);
  t.same(network.commandOf(1, ['node', '-v']), { file: 'ip', args: ['netns', 'exec', `mqc-${tag}-1`, 'node', '-v'] });

  const ports: number[] = [];
  for (const index of [0, 1]) {
    const host = network.hostOf(index);
    const command = network.commandOf(index, [process.execPath, '-e', server_script, host]);
    const server = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(server);
    ports.push(await listeningPort(server));
  }
  const [port_0, port_1] = ports as [number, number];
  const host_0 = network.hostOf(0);
  const host_1 = network.hostOf(1);

  t.same(await tryConnect(host_0, port_0, network_test.connect_timeout_ms), { connected: true, data: `hello from ${host_0}\n` }, 'node 0 reachable from here');
  t.same(await tryConnect(host_1, port_1, network_test.connect_timeout_ms), { connected: true, data: `hello from ${host_1}\n` }, 'node 1 reachable from here');

  network.cut(0);
  const while_cut = await tryConnect(host_0, port_0, network_test.cut_connect_timeout_ms);
  t.equal(while_cut.connected, false, `node 0 cut: no connection (${while_cut.connected ? 'connected' : while_cut.reason})`);
  t.same(await tryConnect(host_1, port_1, network_test.connect_timeout_ms), { connected: true, data: `hello from ${host_1}\n` }, 'node 1 still reachable while node 0 is cut');

  network.heal(0);
  t.same(await tryConnect(host_0, port_0, network_test.connect_timeout_ms), { connected: true, data: `hello from ${host_0}\n` }, 'node 0 reachable again when healed');

  // The servers go first: a namespace with a process in it outlives `ip netns del`.
  await Promise.all(servers.map((server) => killAndWait(server)));
  network.destroy();
  t.same(testNamespaces(tag), [], 'no namespace of the test left');
  t.throws(() => execFileSync('ip', ['link', 'show', `mqc${tag}br`], { stdio: 'pipe' }), 'the bridge is gone');
  const links = await linksGone(tag, network_test.links_gone_timeout_ms);
  t.same(links, [], 'no link of the test left (the veth pairs went with their namespaces)');
  t.doesNotThrow(() => network?.destroy(), 'destroying again does nothing');
});

/** Resolves with the port the server prints; rejects if it exits first or says nothing for 10 s. */
function listeningPort(server: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`the server printed no port within 10 s; stderr: ${stderr}`)), 10_000);
    server.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /port (\d+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    server.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    server.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (code ${code}, signal ${signal}) before it listened; stderr: ${stderr}`));
    });
  });
}

function killAndWait(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.once('exit', () => resolve());
    if (server.pid !== undefined) process.kill(server.pid, 'SIGKILL');
  });
}

/** The test's links still listed after `timeout_ms`, polling every 50 ms ([] as soon as none is). */
async function linksGone(tag: string, timeout_ms: number): Promise<string[]> {
  const deadline_ms = performance.now() + timeout_ms;
  for (;;) {
    const links = testLinks(tag);
    if (links.length === 0 || performance.now() >= deadline_ms) return links;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
