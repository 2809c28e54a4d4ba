import { DeferredReply, type Actor, type ActorContext, type AnyActorDefinition } from './actor.js';
import type { ActorStats } from './actor_stats.js';
import { BoundedQueue } from './bounded_queue.js';
import { assert } from './assert.js';
import { MqError } from './errors.js';
import type { RuntimeLimits } from './limits.js';

/** The longest an operator's restart may hold an actor down. */
export const restart_hold_ms_max = 60_000;
/** An operator's restart waits this long for the old instance's `stop`, then starts anew. */
export const restart_stop_timeout_ms = 10_000;

/** What an operator's restart request did: started it, will start it when the running
 *  handler settles (a handler that never settles keeps it waiting), or nothing. */
export type RestartOutcome = 'restarting' | 'after_handler' | 'not_running';

/** One message waiting in a mailbox. `correlation_id` 0 means tell (no reply wanted). */
export interface Delivery {
  message: { kind: string };
  reply_thread: number;
  correlation_id: number;
}

/** What a cell needs from the Router of its thread. */
export interface CellHost {
  reply(delivery: Delivery, value: unknown, cell: ActorCell): void;
  fail(delivery: Delivery, error: MqError): void;
  /** The cell has messages it can handle now. */
  markReady(cell: ActorCell): void;
  /** An async handler settled: continue with the mailbox now if the thread's turn budget
   *  allows, else queue the cell for the next turn. */
  continueAfterAsync(cell: ActorCell): void;
  /** A restart storm was detected: the cell is now failed for good. */
  reportFailed(cell: ActorCell, error: string): void;
  reportRestarted(cell: ActorCell, error: string): void;
}

type CellStatus = 'starting' | 'running' | 'restarting' | 'failed' | 'stopping' | 'stopped';

export interface CellSpec {
  id: number;
  address: string;
  definition: AnyActorDefinition;
  args: unknown;
  mailbox_messages_max: number;
  /** Restarts counted before this cell existed (its previous thread died). */
  restarts_before: number;
}

/**
 * The runtime's side of one actor: its mailbox, the one-at-a-time handling loop, and the
 * supervision of crashes (drop the instance, create a new one from the same arguments after
 * a doubling backoff, give up after a storm). Owned by the Router of one thread.
 */
export class ActorCell {
  readonly id: number;
  readonly address: string;
  readonly definition: AnyActorDefinition;
  private readonly mailbox: BoundedQueue<Delivery>;
  private instance: Actor<{ kind: string }, unknown> | undefined;
  private status: CellStatus = 'starting';
  private busy = false;
  private restart_timer: NodeJS.Timeout | undefined;
  private crash_times_ms: number[] = [];
  private stopped_waiters: Array<() => void> = [];
  /** Set by the Router while the cell sits in its ready queue. */
  in_ready_queue = false;
  /** An operator asked for a restart while a handler was running: done when it settles,
   *  held this long (ms) between the stop and the new start. */
  private restart_requested: number | undefined;
  /** The old instance's stop during an operator's restart (finishStop waits for it). */
  private operator_stop: Promise<void> | undefined;

  private handled = 0;
  private busy_ms = 0;
  private restarts: number;
  private last_error: string | null = null;
  private rate_sample = { at_ms: performance.now(), handled: 0, per_second: 0 };

  constructor(
    spec: CellSpec,
    private readonly context: ActorContext,
    private readonly host: CellHost,
    private readonly limits: RuntimeLimits,
  ) {
    this.id = spec.id;
    this.address = spec.address;
    this.definition = spec.definition;
    this.args = spec.args;
    this.restarts = spec.restarts_before;
    this.mailbox = new BoundedQueue<Delivery>(spec.mailbox_messages_max);
  }
  private readonly args: unknown;

  /** First start: errors propagate to whoever spawned the actor. */
  async start(): Promise<void> {
    await this.createInstance();
    this.status = 'running';
    this.host.markReady(this);
  }

  /** Queues a delivery; answers the error to give the sender when it cannot be queued. */
  admit(delivery: Delivery): MqError | undefined {
    switch (this.status) {
      case 'failed':
        return new MqError('ACTOR_UNAVAILABLE', `actor '${this.address}' failed after repeated crashes (last: ${this.last_error}); it needs an operator`, { retriable: false });
      case 'stopping':
      case 'stopped':
        return new MqError('SHUTTING_DOWN', `actor '${this.address}' is stopping`);
      case 'starting':
      case 'running':
      case 'restarting':
        if (!this.mailbox.push(delivery)) {
          return new MqError('BUSY', `mailbox of '${this.address}' is full (${this.mailbox.capacity_max} messages); retry later`);
        }
        this.host.markReady(this);
        return undefined;
    }
  }

  hasWork(): boolean {
    return !this.busy && this.mailbox.length > 0 && (this.status === 'running' || this.status === 'stopping');
  }

  /** Handles up to `budget` messages now; returns how many were taken from the mailbox. */
  runSome(budget: number): number {
    let taken = 0;
    while (taken < budget && this.hasWork()) {
      const delivery = this.mailbox.shift() as Delivery;
      taken++;
      this.handle(delivery);
    }
    this.checkStopped();
    return taken;
  }

  private handle(delivery: Delivery): void {
    const instance = this.instance as Actor<{ kind: string }, unknown>;
    const started_ms = performance.now();
    let result: unknown;
    try {
      result = instance.receive(delivery.message);
    } catch (error) {
      this.account(started_ms);
      this.handlerFailed(delivery, error);
      return;
    }
    if (result instanceof DeferredReply) {
      this.account(started_ms);
      (result as DeferredReply<unknown>).reply.then(
        (value) => this.host.reply(delivery, value, this),
        (error: unknown) => this.host.fail(delivery, error instanceof MqError ? error : new MqError('INTERNAL', `deferred reply of '${this.address}' failed: ${describe(error)}`)),
      );
      return;
    }
    if (isThenable(result)) {
      this.busy = true;
      result.then(
        (value) => {
          this.busy = false;
          this.account(started_ms);
          this.host.reply(delivery, value, this);
          this.afterAsync();
        },
        (error: unknown) => {
          this.busy = false;
          this.account(started_ms);
          this.handlerFailed(delivery, error);
          this.afterAsync();
        },
      );
      return;
    }
    this.account(started_ms);
    this.host.reply(delivery, result, this);
  }

  private afterAsync(): void {
    if (this.restart_requested !== undefined) {
      const hold_ms = this.restart_requested;
      this.restart_requested = undefined;
      void this.restartForOperator(hold_ms);
    }
    this.checkStopped();
    this.host.continueAfterAsync(this);
  }

  private account(started_ms: number): void {
    this.handled++;
    this.busy_ms += performance.now() - started_ms;
  }

  private handlerFailed(delivery: Delivery, error: unknown): void {
    if (error instanceof MqError) {
      // A condition the caller caused (bad request, not found...): answer it, keep running.
      this.host.fail(delivery, error);
      return;
    }
    const reason = describe(error);
    this.host.fail(delivery, new MqError('INTERNAL', `actor '${this.address}' crashed while handling '${delivery.message.kind}': ${reason}; it is being restarted`));
    this.crash(reason);
  }

  /**
   * An operator asked for a restart (the inspector's button): the instance stops as it would
   * at shutdown, and a new one is created from the same arguments as after a crash; the
   * mailbox waits meanwhile. False when the actor is not running (restarting, failed,
   * stopping). A handler that is running finishes first. `hold_ms` keeps it down that long
   * before the new start (a drill: watch the node cope with the actor gone).
   */
  requestRestart(hold_ms = 0): RestartOutcome {
    assert(Number.isInteger(hold_ms) && hold_ms >= 0 && hold_ms <= restart_hold_ms_max, `restart hold ${hold_ms} ms is not in 0..${restart_hold_ms_max}`);
    if (this.status !== 'running') return 'not_running';
    if (this.busy) {
      this.restart_requested = hold_ms;
      return 'after_handler';
    }
    void this.restartForOperator(hold_ms);
    return 'restarting';
  }

  private async restartForOperator(hold_ms: number): Promise<void> {
    if (this.status !== 'running') return;
    const reason = 'restarted by an operator';
    const previous = this.instance;
    this.instance = undefined;
    this.status = 'restarting';
    this.last_error = reason;
    // A stop() of the cell meanwhile waits for this one (finishStop), so shutdown never
    // outruns the old instance's own stop; a stop that hangs is given up after a bound.
    this.operator_stop = stopWithin(previous, restart_stop_timeout_ms).then((problem) => {
      if (problem !== undefined) this.last_error = `${reason}; its stop ${problem}`;
    });
    await this.operator_stop;
    this.operator_stop = undefined;
    if (this.status !== 'restarting') return; // the cell was stopped meanwhile
    this.restart_timer = setTimeout(() => void this.restart(reason), hold_ms);
  }

  /** Drops the instance and schedules a restart, or gives up when crashes come too fast. */
  private crash(reason: string): void {
    this.instance = undefined;
    this.last_error = reason;
    const now_ms = performance.now();
    this.crash_times_ms = this.crash_times_ms.filter((at) => now_ms - at < this.limits.restart_window_ms);
    this.crash_times_ms.push(now_ms);
    if (this.status === 'stopping') {
      this.finishStop();
      return;
    }
    if (this.crash_times_ms.length > this.limits.restarts_in_window_max) {
      this.status = 'failed';
      for (const waiting of this.mailbox.drainAll()) {
        this.host.fail(waiting, new MqError('ACTOR_UNAVAILABLE', `actor '${this.address}' failed: ${this.crash_times_ms.length} crashes within ${this.limits.restart_window_ms} ms (last: ${reason})`, { retriable: false }));
      }
      this.host.reportFailed(this, reason);
      return;
    }
    this.status = 'restarting';
    const backoff_ms = Math.min(
      this.limits.restart_backoff_initial_ms * 2 ** (this.crash_times_ms.length - 1),
      this.limits.restart_backoff_max_ms,
    );
    this.restart_timer = setTimeout(() => void this.restart(reason), backoff_ms);
  }

  private async restart(reason: string): Promise<void> {
    this.restart_timer = undefined;
    if (this.status !== 'restarting') return; // stopped while the restart was due
    try {
      await this.createInstance();
    } catch (error) {
      this.crash(`restart failed: ${describe(error)}`);
      return;
    }
    if (this.status !== 'restarting') {
      // Stopped while starting: the new instance stops too, or nobody would.
      await Promise.resolve(this.instance?.stop?.()).catch(() => undefined);
      this.instance = undefined;
      return;
    }
    this.restarts++;
    this.status = 'running';
    this.host.reportRestarted(this, reason);
    this.host.markReady(this);
  }

  private async createInstance(): Promise<void> {
    const instance = this.definition.create(this.context, this.args) as Actor<{ kind: string }, unknown>;
    await instance.start?.();
    this.instance = instance;
  }

  /** Stops taking new messages, handles what is queued, then calls the actor's `stop`. */
  stop(): Promise<void> {
    if (this.status === 'stopped') return Promise.resolve();
    const stopped = new Promise<void>((resolve) => this.stopped_waiters.push(resolve));
    if (this.status === 'restarting' || this.status === 'failed' || this.status === 'starting') {
      clearTimeout(this.restart_timer);
      for (const waiting of this.mailbox.drainAll()) {
        this.host.fail(waiting, new MqError('SHUTTING_DOWN', `actor '${this.address}' stopped before it could handle this`));
      }
      this.status = 'stopping';
      this.finishStop();
    } else if (this.status === 'running') {
      this.status = 'stopping';
      this.host.markReady(this);
      this.checkStopped();
    }
    return stopped;
  }

  private checkStopped(): void {
    if (this.status === 'stopping' && !this.busy && this.mailbox.length === 0) this.finishStop();
  }

  private finishStop(): void {
    const instance = this.instance;
    this.instance = undefined;
    this.status = 'stopped';
    const done = (): void => {
      for (const resolve of this.stopped_waiters.splice(0)) resolve();
    };
    let stopping: void | Promise<void> = undefined;
    try {
      stopping = instance?.stop?.();
    } catch (error) {
      this.last_error = `stop failed: ${describe(error)}`;
    }
    const operator_stop = this.operator_stop;
    if (operator_stop !== undefined) stopping = Promise.all([operator_stop, stopping]).then(() => undefined);
    if (isThenable(stopping)) {
      stopping.then(done, (error: unknown) => {
        this.last_error = `stop failed: ${describe(error)}`;
        done();
      });
    } else {
      done();
    }
  }

  stats(thread: number): ActorStats {
    const now_ms = performance.now();
    const elapsed_ms = now_ms - this.rate_sample.at_ms;
    if (elapsed_ms >= 1_000) {
      this.rate_sample = {
        at_ms: now_ms,
        handled: this.handled,
        per_second: ((this.handled - this.rate_sample.handled) * 1_000) / elapsed_ms,
      };
    }
    return {
      address: this.address,
      kind: this.definition.name,
      thread,
      status: this.status === 'starting' ? 'restarting' : this.status === 'stopping' ? 'running' : this.status,
      mailboxDepth: this.mailbox.length,
      handled: this.handled,
      ratePerSecond: Math.round(this.rate_sample.per_second * 10) / 10,
      busyMs: Math.round(this.busy_ms * 1000) / 1000,
      restarts: this.restarts,
      lastError: this.last_error,
    };
  }

  inspect(): Record<string, unknown> {
    return { ...this.instance?.inspect?.() };
  }
}

function isThenable(value: unknown): value is Promise<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Calls the instance's `stop` and waits for it, at most `timeout_ms`; says what went wrong. */
async function stopWithin(instance: Actor<{ kind: string }, unknown> | undefined, timeout_ms: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`did not finish within ${timeout_ms} ms`), timeout_ms);
  });
  try {
    return await Promise.race([Promise.resolve(instance?.stop?.()).then(() => undefined), timeout]);
  } catch (error) {
    return `failed: ${describe(error)}`;
  } finally {
    clearTimeout(timer);
  }
}
