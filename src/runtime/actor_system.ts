import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { ActorSpawnOptions } from './actor.js';
import type { ActorProtocol } from './actor_protocol.js';
import type { ActorRef } from './actor_ref.js';
import type { ActorStats, ThreadStats } from './actor_stats.js';
import type { RestartOutcome } from './actor_cell.js';
import { assert } from './assert.js';
import { CpuPool } from './cpu_pool.js';
import { MqError, toMqError } from './errors.js';
import type { HostEvent } from './host_control.js';
import { runtime_limits, type RuntimeLimits } from './limits.js';
import { logger, type Logger } from './log.js';
import { probe_module_url, probe_protocol, probeAddress } from './probe_messages.js';
import { Router } from './router.js';
import { ThreadPool } from './thread_pool.js';

export interface ActorSystemOptions {
  /** Worker threads hosting actors (default: os.availableParallelism()). */
  threads?: number;
  name?: string;
  limits?: Partial<RuntimeLimits>;
  /**
   * Node options of the worker threads (actor hosts and the CPU pool). Default: inherited
   * from this process, as Node does. A process that runs under module hooks the actors do
   * not need (a test runner's, an APM agent's) can start lean workers with [].
   */
  worker_exec_argv?: readonly string[];
}

/** Same options as an actor's own `context.spawn`. */
export type SpawnOptions<M extends { kind: string }, R, A> = ActorSpawnOptions<M, R, A>;

interface ActorRecord {
  id: number;
  address: string;
  module: string;
  args: unknown;
  thread: number;
  kind: string;
  mailbox_messages_max: number;
  /** Restarts caused by the death of its thread (the cell counts its own crashes). */
  restarts_by_thread_death: number;
}

/**
 * An actor system: a fixed pool of worker threads, each hosting many actors, plus the main
 * thread's Router from which the process (network handlers, tests) talks to them.
 *
 * Supervision here is of threads: when a worker dies, asks waiting on it fail at once, a new
 * worker takes its index and its actors are created again from their spawn arguments (each
 * reloads its own durable state in `start`). More than `thread_deaths_in_window_max` deaths
 * within the window and the thread is left down, its actors reported failed.
 *
 * Events: `actor-restarted`, `actor-failed` (HostEvent), `thread-exit` ({thread, code}),
 * `thread-restarted` ({thread}), `thread-failed` ({thread}).
 */
export class ActorSystem extends EventEmitter {
  readonly limits: RuntimeLimits;
  readonly cpu: CpuPool;
  private readonly log: Logger;
  private readonly router: Router;
  private readonly pool: ThreadPool;
  private readonly records = new Map<string, ActorRecord>();
  /** Spawn order; stop runs it backwards so an actor stops before those it depends on. */
  private readonly spawn_order: string[] = [];
  private readonly thread_deaths = new Map<number, number[]>();
  private readonly failed_threads = new Set<number>();
  private replacing: Promise<void> = Promise.resolve();
  private next_actor_id = 1;
  private thread_count = 0;
  private stopping = false;

  private constructor(options: ActorSystemOptions) {
    super();
    this.limits = { ...runtime_limits, ...options.limits };
    this.log = logger('actor-system', { system: options.name ?? 'mq-node' });
    this.router = new Router({ thread: 0, limits: this.limits, log: this.log });
    this.pool = new ThreadPool(this.router, this.limits, this.log, options.worker_exec_argv, {
      spawn: async (spec) => {
        try {
          await this.spawnByName({ ...spec, protocol_name: spec.protocol });
          return { ok: true };
        } catch (thrown) {
          const error = toMqError(thrown);
          return { ok: false, code: error.code, message: error.message, retriable: error.retriable };
        }
      },
    });
    this.cpu = new CpuPool(undefined, options.worker_exec_argv);
    this.pool.on('event', (event: HostEvent) => this.onHostEvent(event));
    this.pool.on('exit', (thread: number, code: number) => {
      this.replacing = this.replacing.then(() => this.onThreadExit(thread, code));
    });
  }

  static async start(options: ActorSystemOptions = {}): Promise<ActorSystem> {
    const system = new ActorSystem(options);
    const threads = options.threads ?? os.availableParallelism();
    assert(Number.isInteger(threads) && threads >= 1 && threads <= 256, `threads must be 1..256, got ${threads}`);
    system.thread_count = threads;
    try {
      await system.pool.start(threads);
      for (let thread = 1; thread <= threads; thread++) {
        await system.spawn({ address: probeAddress(thread), module: probe_module_url, protocol: probe_protocol, args: { thread }, thread });
      }
    } catch (error) {
      await system.pool.terminate();
      throw error;
    }
    return system;
  }

  get threads(): number {
    return this.thread_count;
  }

  async spawn<M extends { kind: string }, R, A>(options: SpawnOptions<M, R, A>): Promise<ActorRef<M, R>> {
    await this.spawnByName({ ...options, protocol_name: options.protocol.name });
    return this.router.actorOf(options.address, options.protocol);
  }

  private async spawnByName(options: Omit<SpawnOptions<{ kind: string }, unknown, unknown>, 'protocol'> & { protocol_name: string }): Promise<void> {
    if (this.stopping) throw new MqError('SHUTTING_DOWN', `cannot spawn '${options.address}': the actor system is stopping`);
    if (this.records.has(options.address)) throw new MqError('BAD_REQUEST', `an actor with the address '${options.address}' already exists`);
    const thread = options.thread ?? this.leastLoadedThread();
    if (!Number.isInteger(thread) || thread < 1 || thread > this.thread_count) {
      throw new MqError('BAD_REQUEST', `thread ${thread} does not exist (1..${this.thread_count})`);
    }
    const record: ActorRecord = {
      id: this.next_actor_id++,
      address: options.address,
      module: options.module.toString(),
      args: options.args,
      thread,
      kind: '',
      mailbox_messages_max: options.mailbox_messages_max ?? this.limits.mailbox_messages_max,
      restarts_by_thread_death: 0,
    };
    this.records.set(record.address, record);
    try {
      const started = await this.startOnThread(record);
      if (started.protocol !== options.protocol_name) {
        throw new MqError('BAD_REQUEST', `actor '${record.address}' speaks protocol '${started.protocol}', not '${options.protocol_name}'`);
      }
    } catch (error) {
      this.records.delete(record.address);
      await this.pool.call(thread, 'stop failed spawn', (c) => c.stopActor(record.address)).catch(() => undefined);
      throw error;
    }
    this.spawn_order.push(record.address);
    await this.broadcastPlacement(record);
  }

  /** A reference from the main thread to an actor spawned earlier. */
  actorOf<M extends { kind: string }, R>(address: string, protocol: ActorProtocol<M, R>): ActorRef<M, R> {
    return this.router.actorOf(address, protocol);
  }

  async stopActor(address: string): Promise<void> {
    const record = this.records.get(address);
    if (record === undefined) return;
    await this.dataBarrier([record.thread]);
    await this.pool.call(record.thread, 'stop actor', (c) => c.stopActor(address));
    this.records.delete(address);
    this.spawn_order.splice(this.spawn_order.indexOf(address), 1);
    this.router.removePlacement(address);
    for (const thread of this.pool.threads) {
      if (this.pool.isAlive(thread)) await this.pool.call(thread, 'remove placement', (c) => c.removePlacement(address)).catch(() => undefined);
    }
  }

  /** Restarts one actor as its supervisor would (the inspector's restart button): its instance
   *  stops, a new one starts from the same arguments, its mailbox waits meanwhile. False when
   *  no running actor has that address. `hold_ms` (up to restart_hold_ms_max) keeps it down
   *  that long between the stop and the new start. */
  async restartActor(address: string, hold_ms = 0): Promise<RestartOutcome> {
    const record = this.records.get(address);
    if (record === undefined || !this.pool.isAlive(record.thread)) return 'not_running';
    return this.pool.call(record.thread, 'restart actor', (c) => c.restartActor(address, hold_ms));
  }

  /** Every live worker thread's heap and event-loop delay (since the previous call). */
  async threadStats(): Promise<ThreadStats[]> {
    const alive = this.pool.threads.filter((thread) => this.pool.isAlive(thread));
    const stats = await Promise.all(alive.map((thread) => this.pool.call(thread, 'thread stats', (c) => c.threadStats()).catch(() => undefined)));
    return stats.filter((entry): entry is ThreadStats => entry !== undefined);
  }

  async listActors(): Promise<ActorStats[]> {
    const reported = new Map<string, ActorStats>();
    await Promise.all(this.pool.threads.map(async (thread) => {
      if (!this.pool.isAlive(thread)) return;
      const stats = await this.pool.call(thread, 'stats', (c) => c.stats()).catch(() => []);
      for (const entry of stats) reported.set(entry.address, entry);
    }));
    return this.spawn_order.map((address) => {
      const record = this.records.get(address) as ActorRecord;
      const entry = reported.get(address);
      if (entry !== undefined) return { ...entry, restarts: entry.restarts };
      // Its thread is down (being replaced, or given up on).
      return {
        address,
        kind: record.kind,
        thread: record.thread,
        status: this.failed_threads.has(record.thread) ? 'failed' : 'restarting',
        mailboxDepth: 0,
        handled: 0,
        ratePerSecond: 0,
        busyMs: 0,
        restarts: record.restarts_by_thread_death,
        lastError: `thread ${record.thread} is down`,
      };
    });
  }

  async inspect(address: string): Promise<Record<string, unknown> | undefined> {
    const record = this.records.get(address);
    if (record === undefined) return undefined;
    return this.pool.call(record.thread, 'inspect', (c) => c.inspect(address));
  }

  /** Healthy when every worker thread's probe actor answers within the probe timeout. */
  async health(): Promise<{ ok: boolean; reason?: string }> {
    if (this.stopping) return { ok: false, reason: 'stopping' };
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: this.thread_count }, async (_, index) => {
        const thread = index + 1;
        try {
          const reply = await this.router.ask(probeAddress(thread), probe_protocol, { kind: 'ping', echo: thread }, this.limits.probe_timeout_ms);
          if (reply.thread !== thread || reply.echo !== thread) failures.push(`thread ${thread}: wrong probe answer`);
        } catch (error) {
          failures.push(`thread ${thread}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }),
    );
    return failures.length === 0 ? { ok: true } : { ok: false, reason: failures.join('; ') };
  }

  /** Drains and stops every actor (last spawned first), then ends the threads. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.replacing;
    await this.dataBarrier(this.pool.threads);
    for (const address of [...this.spawn_order].reverse()) {
      const record = this.records.get(address) as ActorRecord;
      if (!this.pool.isAlive(record.thread)) continue;
      await this.pool.call(record.thread, 'stop actor', (c) => c.stopActor(address)).catch((error: unknown) => {
        this.log.error({ actor: address, err: error }, 'actor did not stop cleanly');
      });
    }
    this.router.close();
    await this.pool.terminate();
    await this.cpu.destroy();
  }

  /**
   * Makes sure that everything the main thread sent to these threads' actors so far sits in
   * their mailboxes. Control calls travel on another port than data, and nothing orders two
   * ports; so before a stop (which drains mailboxes) the outboxes are flushed and a probe ask
   * is sent after them on the same data port: its reply proves the earlier messages arrived.
   */
  private async dataBarrier(threads: number[]): Promise<void> {
    this.router.flushAll();
    await Promise.all(threads.map((thread) =>
      this.router.ask(probeAddress(thread), probe_protocol, { kind: 'ping', echo: thread }, this.limits.probe_timeout_ms).catch(() => undefined),
    ));
  }

  // ---- supervision of threads --------------------------------------------------------------

  private async onThreadExit(thread: number, code: number): Promise<void> {
    if (this.stopping) return;
    this.log.error({ thread, code }, 'worker thread exited; replacing it');
    this.emit('thread-exit', { thread, code });
    this.router.peerDown(thread);
    for (const other of this.pool.threads) {
      if (other !== thread && this.pool.isAlive(other)) {
        await this.pool.call(other, 'peer down', (c) => c.peerDown(thread)).catch(() => undefined);
      }
    }
    const now_ms = performance.now();
    const deaths = (this.thread_deaths.get(thread) ?? []).filter((at) => now_ms - at < this.limits.thread_death_window_ms);
    deaths.push(now_ms);
    this.thread_deaths.set(thread, deaths);
    if (deaths.length > this.limits.thread_deaths_in_window_max) {
      this.failed_threads.add(thread);
      this.log.error({ thread, deaths: deaths.length }, 'worker thread keeps dying; giving up on it and its actors');
      this.emit('thread-failed', { thread });
      return;
    }
    try {
      await this.pool.startWorker(thread);
      const placements = [...this.records.values()].map(({ id, address, thread: at }) => ({ id, address, thread: at }));
      await this.pool.call(thread, 'placements', (c) => c.setPlacements(placements));
      for (const address of this.spawn_order) {
        const record = this.records.get(address) as ActorRecord;
        if (record.thread !== thread) continue;
        record.restarts_by_thread_death++;
        await this.startOnThread(record).catch((error: unknown) => {
          this.log.error({ actor: address, err: error }, 'actor did not start again on the new thread');
          this.emit('actor-failed', { kind: 'actor-failed', address, thread, error: String(error) });
        });
      }
      this.emit('thread-restarted', { thread });
    } catch (error) {
      this.log.error({ thread, err: error }, 'could not replace the worker thread');
    }
  }

  private async startOnThread(record: ActorRecord): Promise<{ protocol: string }> {
    const started = await this.pool.call(record.thread, `spawn ${record.address}`, (c) =>
      c.spawn({
        id: record.id,
        address: record.address,
        module: record.module,
        args: record.args,
        mailbox_messages_max: record.mailbox_messages_max,
        restarts_before: record.restarts_by_thread_death,
      }),
    );
    record.kind = started.kind;
    return started;
  }

  private async broadcastPlacement(record: ActorRecord): Promise<void> {
    const placement = { id: record.id, address: record.address, thread: record.thread };
    this.router.setPlacements([placement]);
    await Promise.all(this.pool.threads.map((thread) =>
      this.pool.isAlive(thread) ? this.pool.call(thread, 'placement', (c) => c.setPlacements([placement])) : undefined,
    ));
  }

  private leastLoadedThread(): number {
    const load = new Map<number, number>();
    for (let thread = 1; thread <= this.thread_count; thread++) load.set(thread, 0);
    for (const record of this.records.values()) load.set(record.thread, (load.get(record.thread) ?? 0) + 1);
    let best = 1;
    for (const [thread, count] of load) if (count < (load.get(best) as number)) best = thread;
    return best;
  }

  private onHostEvent(event: HostEvent): void {
    this.emit(event.kind, event);
  }
}
