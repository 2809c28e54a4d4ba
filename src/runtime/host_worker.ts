/**
 * Entry of every worker thread of an ActorSystem: one Router hosting this thread's actors,
 * and the HostControl API exposed to the main thread through Comlink.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpointModule from 'comlink/dist/umd/node-adapter.js';
import type { AnyActorDefinition } from './actor.js';
import { assert } from './assert.js';
import { isMqErrorCode, MqError } from './errors.js';
import type { HostControl, HostEvent, HostStartData, SpawnSpec, SystemControl } from './host_control.js';
import { logger } from './log.js';
import { Router } from './router.js';

const nodeEndpoint = nodeEndpointModule as unknown as typeof nodeEndpointModule.default;
const start = workerData as HostStartData;
const log = logger('actor-host', { thread: start.thread });

const system = Comlink.wrap<SystemControl>(nodeEndpoint(start.system_port));

const router = new Router({
  thread: start.thread,
  limits: start.limits,
  log,
  onEvent: (event: HostEvent) => parentPort?.postMessage(event),
  spawn: async (options) => {
    const result = await system.spawn({
    address: options.address,
    module: options.module.toString(),
    protocol: options.protocol.name,
    args: options.args,
    ...(options.thread === undefined ? {} : { thread: options.thread }),
    ...(options.mailbox_messages_max === undefined ? {} : { mailbox_messages_max: options.mailbox_messages_max }),
    });
    if (!result.ok) throw new MqError(isMqErrorCode(result.code) ? result.code : 'INTERNAL', result.message, { retriable: result.retriable });
  },
});
router.connectPeer(0, start.main_data_port);

async function loadDefinition(module_url: string): Promise<AnyActorDefinition> {
  const module = (await import(module_url)) as { actor?: AnyActorDefinition };
  assert(module.actor !== undefined && typeof module.actor.create === 'function', `module ${module_url} does not export an actor definition named 'actor'`);
  return module.actor;
}

/** Samples how late this thread's event loop runs, with a timer every 50 ms (20 wake-ups a
 *  second: about 1 ms of a core per second at ~40 µs a wake-up). The histogram records each
 *  whole interval, so the delay is what exceeds 50 ms. */
const loop_resolution_ms = 50;
const loop_delay = monitorEventLoopDelay({ resolution: loop_resolution_ms });
loop_delay.enable();

const control: HostControl = {
  connectPeer: (thread, port) => router.connectPeer(thread, port),
  peerDown: (thread) => router.peerDown(thread),
  setPlacements: (placements) => router.setPlacements(placements),
  removePlacement: (address) => router.removePlacement(address),
  async spawn(spec: SpawnSpec) {
    const definition = await loadDefinition(spec.module);
    await router.spawnLocal({ ...spec, definition });
    return { protocol: definition.protocol.name, kind: definition.name };
  },
  stopActor: (address) => router.stopLocal(address),
  restartActor: (address, hold_ms) => router.restartLocal(address, hold_ms),
  list: () => router.localStats().map(({ address, kind }) => ({ address, kind })),
  stats: () => router.localStats(),
  threadStats: () => {
    const heap = getHeapStatistics();
    const ms = (nanoseconds: number): number => (Number.isFinite(nanoseconds) ? Math.max(0, nanoseconds / 1e6 - loop_resolution_ms) : 0);
    const stats = {
      thread: start.thread,
      heapUsedBytes: heap.used_heap_size,
      heapTotalBytes: heap.total_heap_size,
      eventLoopDelayP50Ms: ms(loop_delay.percentile(50)),
      eventLoopDelayP99Ms: ms(loop_delay.percentile(99)),
      eventLoopDelayMaxMs: ms(loop_delay.max),
    };
    loop_delay.reset();
    return stats;
  },
  inspect: (address) => router.inspectLocal(address),
  counters: () => router.counters(),
};

Comlink.expose(control, nodeEndpoint(start.control_port));
