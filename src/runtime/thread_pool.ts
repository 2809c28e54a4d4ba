import { EventEmitter } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpointModule from 'comlink/dist/umd/node-adapter.js';
import { MqError } from './errors.js';
import type { HostControl, HostEvent, HostStartData, SystemControl } from './host_control.js';
import type { RuntimeLimits } from './limits.js';
import type { Logger } from './log.js';
import type { Router } from './router.js';

const nodeEndpoint = nodeEndpointModule as unknown as typeof nodeEndpointModule.default;
const host_worker_url = new URL('./host_worker.js', import.meta.url);

interface WorkerHandle {
  readonly thread: number;
  readonly worker: Worker;
  readonly control: Comlink.Remote<HostControl>;
  /** Settles with the exit code when the thread ends, whatever the reason. */
  readonly exited: Promise<number>;
  alive: boolean;
}

/**
 * The worker threads of an ActorSystem, numbered 1..threads (0 is the main thread). Wires a
 * data port between every pair of threads, so actors talk directly, never through main.
 * Emits `exit` (thread, code) when a worker ends while the pool is running, and `event`
 * (HostEvent) for what workers report. Owned by the main thread.
 */
export class ThreadPool extends EventEmitter {
  private readonly handles = new Map<number, WorkerHandle>();
  private stopping = false;

  constructor(
    private readonly main_router: Router,
    private readonly limits: RuntimeLimits,
    private readonly log: Logger,
    /** Node options of the workers; undefined: inherited from this process. */
    private readonly exec_argv: readonly string[] | undefined,
    private readonly system_control: SystemControl,
  ) {
    super();
  }

  get threads(): number[] {
    return [...this.handles.keys()].sort((a, b) => a - b);
  }

  isAlive(thread: number): boolean {
    return this.handles.get(thread)?.alive === true;
  }

  async start(thread_count: number): Promise<void> {
    for (let thread = 1; thread <= thread_count; thread++) await this.startWorker(thread);
  }

  /** Starts (or restarts) the worker of `thread` and links it to main and to every live worker. */
  async startWorker(thread: number): Promise<void> {
    const control_channel = new MessageChannel();
    const data_channel = new MessageChannel();
    const system_channel = new MessageChannel();
    Comlink.expose(this.system_control, nodeEndpoint(system_channel.port1));
    const start_data: HostStartData = { thread, control_port: control_channel.port2, main_data_port: data_channel.port2, system_port: system_channel.port2, limits: this.limits };
    const worker = new Worker(host_worker_url, {
      workerData: start_data,
      transferList: [control_channel.port2, data_channel.port2, system_channel.port2],
      ...(this.exec_argv === undefined ? {} : { execArgv: [...this.exec_argv] }),
    });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const handle: WorkerHandle = { thread, worker, control: Comlink.wrap<HostControl>(nodeEndpoint(control_channel.port1)), exited, alive: true };
    this.handles.set(thread, handle);
    worker.on('message', (event: HostEvent) => this.emit('event', event));
    worker.on('error', (error) => this.log.error({ thread, err: error }, 'worker thread threw an uncaught error'));
    void exited.then((code) => {
      handle.alive = false;
      control_channel.port1.close();
      system_channel.port1.close();
      if (!this.stopping && this.handles.get(thread) === handle) this.emit('exit', thread, code);
    });
    this.main_router.connectPeer(thread, data_channel.port1);
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    for (const other of this.handles.values()) {
      if (other === handle || !other.alive) continue;
      const link = new MessageChannel();
      await this.call(thread, 'connect', (c) => c.connectPeer(other.thread, Comlink.transfer(link.port1, [link.port1])));
      await this.call(other.thread, 'connect', (c) => c.connectPeer(thread, Comlink.transfer(link.port2, [link.port2])));
    }
  }

  /**
   * Calls the control plane of one worker. Comlink alone would wait forever on a thread that
   * died; this fails fast when the thread exits and after a bounded time.
   */
  async call<T>(thread: number, what: string, invoke: (control: Comlink.Remote<HostControl>) => Promise<T>): Promise<T> {
    const handle = this.handles.get(thread);
    if (handle === undefined || !handle.alive) throw new MqError('ACTOR_UNAVAILABLE', `thread ${thread} is not running (${what})`);
    let timer: NodeJS.Timeout | undefined;
    const timed_out = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new MqError('TIMEOUT', `thread ${thread} did not answer '${what}' within ${this.limits.control_call_timeout_ms} ms`)), this.limits.control_call_timeout_ms);
    });
    const died = handle.exited.then((code): never => {
      throw new MqError('ACTOR_UNAVAILABLE', `thread ${thread} exited with code ${code} during '${what}'`);
    });
    try {
      return await Promise.race([invoke(handle.control), died, timed_out]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends every worker. Actors must have been stopped first (ActorSystem.stop does that). */
  async terminate(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.handles.values()].map(async (handle) => {
      await handle.worker.terminate();
      await handle.exited;
    }));
  }
}
