import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import t from 'tap';
import type { HealthReport } from '../../src/admin/admin_source.js';
import type { ActorStats } from '../../src/runtime/actor_stats.js';
import { loadConfig, type NodeConfig } from '../../src/server/config.js';
import { RunningNode, type Listener, type ListenerKey, type NodeSystem } from '../../src/server/role.js';

/** The node's start/stop order and its ready line, with a fake actor system and fake listeners. */

const silent = pino({ level: 'silent' });

function standalone(extra: string[] = [], admin_port = 0): NodeConfig {
  const request = loadConfig(['--role', 'standalone', '--host', '127.0.0.1', '--admin-port', String(admin_port), '--threads', '1', ...extra], {});
  if (request.action === 'help') throw new Error('expected a config');
  return request.config;
}

class FakeSystem implements NodeSystem {
  stopped = false;
  constructor(private readonly events: string[]) {}
  async listActors(): Promise<ActorStats[]> {
    return [];
  }
  async health(): Promise<HealthReport> {
    return { ok: true };
  }
  async stop(): Promise<void> {
    this.events.push('system stop');
    this.stopped = true;
  }
}

function fakeListener(events: string[], key: ListenerKey, port: number, fail_start = false): Listener {
  return {
    key,
    async start() {
      if (fail_start) throw new Error(`${key} port taken`);
      events.push(`${key} start`);
      return { host: '127.0.0.1', port };
    },
    async stop() {
      events.push(`${key} stop`);
    },
  };
}

t.test('the ready line lists what started, at the advertised host, with the chosen ports', async (t) => {
  const events: string[] = [];
  const config = standalone(['--advertise-host', 'mq.example.com']);
  const node = await RunningNode.start(config, {
    startSystem: async (options) => {
      events.push(`system start threads=${options.threads} name=${options.name}`);
      return new FakeSystem(events);
    },
    listeners: () => [fakeListener(events, 'namesrv', 4001), fakeListener(events, 'broker', 4002), fakeListener(events, 'ha', 4003)],
    log: silent,
  });
  t.teardown(() => node.stop());
  const admin = String(node.ready.admin);
  t.match(admin, /^mq\.example\.com:[1-9][0-9]*$/);
  t.same(node.ready, { event: 'ready', role: 'standalone', namesrv: 'mq.example.com:4001', broker: 'mq.example.com:4002', ha: 'mq.example.com:4003', admin });
  t.same(Object.keys(node.ready), ['event', 'role', 'namesrv', 'broker', 'ha', 'admin'], 'listener order, admin last');

  const health = await fetch(`http://127.0.0.1:${admin.split(':')[1]}/healthz`);
  t.equal(health.status, 200);
  await node.stop();
  t.same(events, [
    'system start threads=1 name=mq-standalone',
    'namesrv start', 'broker start', 'ha start',
    'ha stop', 'broker stop', 'namesrv stop', 'system stop',
  ], 'listeners stop newest first, before the actor system');
  await t.rejects(fetch(`http://127.0.0.1:${admin.split(':')[1]}/healthz`), 'the admin server closed last');
});

t.test('healthz is 503 while the node starts and while it stops', async (t) => {
  // The admin port must be known before start resolves: take a free one from the OS first.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const healthz = async (): Promise<{ status: number; body: string }> => {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: response.status, body: await response.text() };
  };
  let while_starting: { status: number; body: string } | null = null;
  let while_stopping: { status: number; body: string } | null = null;
  const node = await RunningNode.start(standalone([], port), {
    startSystem: async () => new FakeSystem([]),
    listeners: () => [{
      key: 'broker',
      start: async () => {
        while_starting = await healthz();
        return { host: '127.0.0.1', port: 4100 };
      },
      stop: async () => {
        while_stopping = await healthz();
      },
    }],
    log: silent,
  });
  t.teardown(() => node.stop());
  t.same(while_starting, { status: 503, body: 'unavailable: node is starting\n' });
  t.same(await healthz(), { status: 200, body: 'ok\n' });
  await node.stop();
  t.same(while_stopping, { status: 503, body: 'unavailable: node is stopping\n' });
});

t.test('a listener that fails to start: what started is stopped, the error is rethrown', async (t) => {
  const events: string[] = [];
  let system: FakeSystem | null = null;
  await t.rejects(
    RunningNode.start(standalone(), {
      startSystem: async () => (system = new FakeSystem(events)),
      listeners: () => [fakeListener(events, 'namesrv', 4201), fakeListener(events, 'broker', 4202, true)],
      log: silent,
    }),
    { message: 'broker port taken' },
  );
  t.same(events, ['namesrv start', 'namesrv stop', 'system stop']);
  t.equal(system !== null && (system as FakeSystem).stopped, true);
});

t.test('a failing stop step does not skip the others; the failure is reported', async (t) => {
  const events: string[] = [];
  const node = await RunningNode.start(standalone(), {
    startSystem: async () => new FakeSystem(events),
    listeners: () => [
      fakeListener(events, 'namesrv', 4301),
      { key: 'broker', start: async () => ({ host: '127.0.0.1', port: 4302 }), stop: async () => { throw new Error('broker stuck'); } },
    ],
    log: silent,
  });
  await t.rejects(node.stop(), { message: /^shutdown finished with 1 failed step\(s\); the first: Error: broker stuck$/ });
  t.same(events, ['namesrv start', 'namesrv stop', 'system stop']);
  await t.rejects(node.stop(), { message: /broker stuck/ }, 'stop again returns the same outcome');
});
