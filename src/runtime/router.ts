import type { MessagePort } from 'node:worker_threads';
import type { ActorContext, ActorSpawnOptions, AnyActorDefinition } from './actor.js';
import { ActorCell, type CellHost, type Delivery, type RestartOutcome } from './actor_cell.js';
import { avroCodec, type ActorProtocol, type Codec } from './actor_protocol.js';
import { ActorRef, type MessageSender } from './actor_ref.js';
import type { ActorStats } from './actor_stats.js';
import { assertNever } from './assert.js';
import { system_clock, type Clock } from './clock.js';
import { isMqErrorCode, MqError } from './errors.js';
import type { RuntimeLimits } from './limits.js';
import type { Logger } from './log.js';
import { Outbox } from './outbox.js';
import { PendingAsks } from './pending_asks.js';
import { EnvelopeKind, forEachEnvelope, type EnvelopeHeader } from './thread_envelope.js';

/** Where an actor lives: its interned id and its thread. The same table is on every thread. */
export interface Placement {
  id: number;
  address: string;
  thread: number;
}

/** Events a Router reports to whoever runs it (the worker host forwards them to the main thread). */
export type RouterEvent =
  | { kind: 'actor-restarted'; address: string; thread: number; error: string }
  | { kind: 'actor-failed'; address: string; thread: number; error: string };

interface Peer {
  port: MessagePort;
  outbox: Outbox;
}

interface Failure {
  code: string;
  message: string;
  retriable: boolean;
}

const failure_codec: Codec<Failure> = avroCodec<Failure>({
  type: 'record',
  name: 'ActorFailure',
  fields: [
    { name: 'code', type: 'string' },
    { name: 'message', type: 'string' },
    { name: 'retriable', type: 'boolean' },
  ],
});

export interface RouterOptions {
  thread: number;
  limits: RuntimeLimits;
  log: Logger;
  clock?: Clock;
  onEvent?: (event: RouterEvent) => void;
  /** How actors of this thread spawn others (asks the main thread's ActorSystem). */
  spawn?: (options: ActorSpawnOptions<{ kind: string }, unknown, unknown>) => Promise<void>;
}

/**
 * The message switch of one thread (the main thread or a worker): its local actors, its
 * links to the other threads, and the asks it waits on.
 *
 * Scheduling: deliveries mark cells ready; one `turn` (a setImmediate, so I/O callbacks of
 * the same loop iteration batch together) runs ready cells for a bounded number of messages,
 * then flushes every outbox: everything this thread produced for another thread during the
 * turn leaves in one postMessage per thread.
 */
export class Router implements MessageSender, CellHost {
  readonly thread: number;
  private readonly limits: RuntimeLimits;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly on_event: (event: RouterEvent) => void;
  private readonly spawner: RouterOptions['spawn'];
  private readonly cells = new Map<number, ActorCell>();
  private readonly placements = new Map<string, Placement>();
  private readonly peers = new Map<number, Peer>();
  private readonly pending: PendingAsks;
  private readonly ready: ActorCell[] = [];
  private ready_head = 0;
  private turn_scheduled = false;
  /** Messages this thread may still handle before it yields to the event loop: reset by each
   *  turn, spent by turns and by async handlers continuing in their microtasks. */
  private turn_budget = 0;
  private closed = false;
  dropped_tells = 0;

  constructor(options: RouterOptions) {
    this.thread = options.thread;
    this.limits = options.limits;
    this.log = options.log;
    this.clock = options.clock ?? system_clock;
    this.on_event = options.onEvent ?? (() => {});
    this.spawner = options.spawn;
    this.pending = new PendingAsks(this.limits.pending_asks_max);
  }

  // ---- links to other threads -------------------------------------------------------------

  connectPeer(thread: number, port: MessagePort): void {
    this.peers.get(thread)?.port.close();
    const outbox = new Outbox(
      (batch, transfer) => port.postMessage(batch, [transfer]),
      this.limits.outbox_initial_bytes,
      this.limits.message_bytes_max,
    );
    port.on('message', (batch: Uint8Array) => this.receiveBatch(Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength)));
    this.peers.set(thread, { port, outbox });
  }

  /** The thread died: nothing it owed us will come, so its asks fail now rather than time out. */
  peerDown(thread: number): void {
    const peer = this.peers.get(thread);
    if (peer !== undefined) {
      this.dropped_tells += peer.outbox.discard();
      peer.port.close();
      this.peers.delete(thread);
    }
    const failed = this.pending.rejectThread(thread, () => new MqError('ACTOR_UNAVAILABLE', `the thread hosting the actor (${thread}) died; its actors are being restarted, retry shortly`));
    if (failed > 0) this.log.warn({ thread, failed_asks: failed }, 'thread down: failed its pending asks');
  }

  setPlacements(placements: readonly Placement[]): void {
    for (const placement of placements) this.placements.set(placement.address, placement);
  }

  removePlacement(address: string): void {
    this.placements.delete(address);
  }

  // ---- local actors -----------------------------------------------------------------------

  async spawnLocal(spec: { id: number; address: string; definition: AnyActorDefinition; args: unknown; mailbox_messages_max: number; restarts_before: number }): Promise<void> {
    const context: ActorContext = {
      address: spec.address,
      thread: this.thread,
      log: this.log.child({ actor: spec.address }),
      clock: this.clock,
      actorOf: (address, protocol) => this.actorOf(address, protocol),
      spawn: async (options) => {
        if (this.spawner === undefined) throw new MqError('BAD_REQUEST', 'actors on this thread cannot spawn others');
        await this.spawner(options as ActorSpawnOptions<{ kind: string }, unknown, unknown>);
        return this.actorOf(options.address, options.protocol);
      },
    };
    const cell = new ActorCell(spec, context, this, this.limits);
    this.cells.set(spec.id, cell);
    this.placements.set(spec.address, { id: spec.id, address: spec.address, thread: this.thread });
    try {
      await cell.start();
    } catch (error) {
      this.cells.delete(spec.id);
      throw error;
    }
  }

  async stopLocal(address: string): Promise<void> {
    const placement = this.placements.get(address);
    const cell = placement === undefined ? undefined : this.cells.get(placement.id);
    if (cell === undefined) return;
    await cell.stop();
    this.cells.delete(cell.id);
  }

  /** See ActorCell.requestRestart. */
  restartLocal(address: string, hold_ms: number): RestartOutcome {
    const placement = this.placements.get(address);
    const cell = placement === undefined ? undefined : this.cells.get(placement.id);
    return cell?.requestRestart(hold_ms) ?? 'not_running';
  }

  localStats(): ActorStats[] {
    return [...this.cells.values()].map((cell) => cell.stats(this.thread));
  }

  inspectLocal(address: string): Record<string, unknown> | undefined {
    const placement = this.placements.get(address);
    const cell = placement === undefined ? undefined : this.cells.get(placement.id);
    if (cell === undefined) return undefined;
    return { ...cell.stats(this.thread), state: cell.inspect() };
  }

  // ---- sending ----------------------------------------------------------------------------

  actorOf<M extends { kind: string }, R>(address: string, protocol: ActorProtocol<M, R>): ActorRef<M, R> {
    return new ActorRef(this, address, protocol);
  }

  tell<M extends { kind: string }, R>(address: string, protocol: ActorProtocol<M, R>, message: M): boolean {
    const placement = this.placements.get(address);
    if (placement === undefined) {
      // Not known on this thread (not spawned yet, or stopped): a tell is fire-and-forget,
      // so it is dropped and counted like any other undeliverable tell, never thrown.
      this.dropped_tells++;
      this.log.debug({ address, kind: message.kind }, 'tell to an address this thread does not know: dropped');
      return false;
    }
    if (placement.thread === this.thread) {
      const error = this.localCell(placement)?.admit({ message, reply_thread: this.thread, correlation_id: 0 });
      if (error === undefined) return true;
      this.dropped_tells++;
      return false;
    }
    const peer = this.peers.get(placement.thread);
    if (peer === undefined || this.closed) {
      this.dropped_tells++;
      return false;
    }
    peer.outbox.append({ kind: EnvelopeKind.tell, from_thread: this.thread, correlation_id: 0, to_actor_id: placement.id }, protocol.message, message);
    this.scheduleTurn();
    return true;
  }

  ask<M extends { kind: string }, R>(address: string, protocol: ActorProtocol<M, R>, message: M, timeout_ms = this.limits.ask_timeout_ms_default): Promise<R> {
    if (this.closed) return Promise.reject(new MqError('SHUTTING_DOWN', `cannot ask '${address}': the actor system is stopping`));
    let placement: Placement;
    try {
      placement = this.placementOf(address);
    } catch (error) {
      return Promise.reject(error);
    }
    const peer = placement.thread === this.thread ? undefined : this.peers.get(placement.thread);
    if (placement.thread !== this.thread && peer === undefined) {
      return Promise.reject(new MqError('ACTOR_UNAVAILABLE', `the thread of '${address}' (${placement.thread}) is down; retry shortly`));
    }
    const { id, reply } = this.pending.open(address, placement.thread, protocol.reply, timeout_ms);
    if (id === 0) return reply;
    if (peer === undefined) {
      const cell = this.localCell(placement);
      const error = cell === undefined ? notFound(address) : cell.admit({ message, reply_thread: this.thread, correlation_id: id });
      if (error !== undefined) this.pending.reject(id, error);
      return reply;
    }
    try {
      peer.outbox.append({ kind: EnvelopeKind.ask, from_thread: this.thread, correlation_id: id, to_actor_id: placement.id }, protocol.message, message);
    } catch (error) {
      this.pending.reject(id, error instanceof MqError ? error : new MqError('BAD_REQUEST', `message to '${address}' could not be encoded: ${String(error)}`));
      return reply;
    }
    this.scheduleTurn();
    return reply;
  }

  private placementOf(address: string): Placement {
    const placement = this.placements.get(address);
    if (placement === undefined) throw notFound(address);
    return placement;
  }

  private localCell(placement: Placement): ActorCell | undefined {
    return this.cells.get(placement.id);
  }

  // ---- CellHost: replies and supervision reports -------------------------------------------

  reply(delivery: Delivery, value: unknown, cell: ActorCell): void {
    if (delivery.correlation_id === 0) return;
    if (delivery.reply_thread === this.thread) {
      this.pending.resolve(delivery.correlation_id, value);
      return;
    }
    const peer = this.peers.get(delivery.reply_thread);
    if (peer === undefined) return; // the asker's thread died; it failed the ask itself
    const header: EnvelopeHeader = { kind: EnvelopeKind.reply, from_thread: this.thread, correlation_id: delivery.correlation_id, to_actor_id: 0 };
    try {
      peer.outbox.append(header, cell.definition.protocol.reply as Codec<unknown>, value);
    } catch (error) {
      this.log.error({ actor: cell.address, err: error }, 'reply does not match the protocol; answering INTERNAL');
      this.fail(delivery, new MqError('INTERNAL', `actor '${cell.address}' produced a reply its protocol cannot encode: ${String(error)}`));
      return;
    }
    this.scheduleTurn();
  }

  fail(delivery: Delivery, error: MqError): void {
    if (delivery.correlation_id === 0) {
      // A tell refused while its actor stops is expected during shutdown; anything else is news.
      if (error.code === 'SHUTTING_DOWN') this.log.debug({ kind: delivery.message.kind }, 'a told message arrived while its actor stopped');
      else this.log.warn({ err: error, kind: delivery.message.kind }, 'a told message failed');
      return;
    }
    if (delivery.reply_thread === this.thread) {
      this.pending.reject(delivery.correlation_id, error);
      return;
    }
    const peer = this.peers.get(delivery.reply_thread);
    if (peer === undefined) return;
    peer.outbox.append(
      { kind: EnvelopeKind.fail, from_thread: this.thread, correlation_id: delivery.correlation_id, to_actor_id: 0 },
      failure_codec,
      { code: error.code, message: error.message, retriable: error.retriable },
    );
    this.scheduleTurn();
  }

  markReady(cell: ActorCell): void {
    if (cell.in_ready_queue || !cell.hasWork()) return;
    cell.in_ready_queue = true;
    this.ready.push(cell);
    this.scheduleTurn();
  }

  continueAfterAsync(cell: ActorCell): void {
    // Continuing here, in the microtask where the handler's promise settled, saves a whole
    // event-loop turn per message for async actors; the budget keeps it from starving I/O.
    if (this.turn_budget > 0 && !cell.in_ready_queue) {
      this.turn_budget -= cell.runSome(Math.min(this.limits.drain_messages_per_turn, this.turn_budget));
    }
    this.markReady(cell);
    this.scheduleTurn(); // flushes what the continuation sent to other threads
  }

  reportFailed(cell: ActorCell, error: string): void {
    this.log.error({ actor: cell.address, error }, 'actor failed: restart storm, giving up');
    this.on_event({ kind: 'actor-failed', address: cell.address, thread: this.thread, error });
  }

  reportRestarted(cell: ActorCell, error: string): void {
    this.log.warn({ actor: cell.address, error }, 'actor restarted after a crash');
    this.on_event({ kind: 'actor-restarted', address: cell.address, thread: this.thread, error });
  }

  // ---- receiving and scheduling -------------------------------------------------------------

  private receiveBatch(batch: Buffer): void {
    forEachEnvelope(batch, (header, start, end) => {
      switch (header.kind) {
        case EnvelopeKind.tell:
        case EnvelopeKind.ask:
          this.receiveMessage(header, batch, start, end);
          break;
        case EnvelopeKind.reply: {
          const codec = this.pending.codecOf(header.correlation_id);
          if (codec === undefined) this.pending.late_replies++;
          else this.pending.resolve(header.correlation_id, codec.decode(batch, start, end));
          break;
        }
        case EnvelopeKind.fail: {
          const failure = failure_codec.decode(batch, start, end);
          const code = isMqErrorCode(failure.code) ? failure.code : 'INTERNAL';
          this.pending.reject(header.correlation_id, new MqError(code, failure.message, { retriable: failure.retriable }));
          break;
        }
        default:
          assertNever(header.kind, 'envelope kind');
      }
    });
    this.scheduleTurn();
  }

  private receiveMessage(header: EnvelopeHeader, batch: Buffer, start: number, end: number): void {
    const cell = this.cells.get(header.to_actor_id);
    const delivery_base = { reply_thread: header.from_thread, correlation_id: header.kind === EnvelopeKind.ask ? header.correlation_id : 0 };
    if (cell === undefined) {
      const error = new MqError('ACTOR_UNAVAILABLE', `actor #${header.to_actor_id} is not running on thread ${this.thread} (restarting or stopped); retry shortly`);
      this.fail({ message: { kind: '?' }, ...delivery_base }, error);
      if (delivery_base.correlation_id === 0) this.dropped_tells++;
      return;
    }
    const message = cell.definition.protocol.message.decode(batch, start, end) as { kind: string };
    const error = cell.admit({ message, ...delivery_base });
    if (error !== undefined) {
      if (delivery_base.correlation_id === 0) this.dropped_tells++;
      this.fail({ message, ...delivery_base }, error);
    }
  }

  private scheduleTurn(): void {
    if (this.turn_scheduled || this.closed) return;
    this.turn_scheduled = true;
    setImmediate(this.turn);
  }

  private readonly turn = (): void => {
    this.turn_scheduled = false;
    this.turn_budget = this.limits.thread_messages_per_turn;
    while (this.turn_budget > 0 && this.ready_head < this.ready.length) {
      const cell = this.ready[this.ready_head++] as ActorCell;
      cell.in_ready_queue = false;
      this.turn_budget -= cell.runSome(Math.min(this.limits.drain_messages_per_turn, this.turn_budget));
      this.markReady(cell); // back of the queue if it still has work: fairness between actors
    }
    if (this.ready_head === this.ready.length) {
      this.ready.length = 0;
      this.ready_head = 0;
    }
    for (const peer of this.peers.values()) peer.outbox.flush();
    if (this.ready_head < this.ready.length) this.scheduleTurn();
  };

  /** Stops all traffic: pending asks fail with SHUTTING_DOWN, links close. */
  close(): void {
    this.closed = true;
    this.pending.rejectAll(() => new MqError('SHUTTING_DOWN', 'the actor system stopped before the reply came'));
    for (const peer of this.peers.values()) peer.port.close();
    this.peers.clear();
  }

  /** Posts what is queued for other threads now (used before a thread stops). */
  flushAll(): void {
    for (const peer of this.peers.values()) peer.outbox.flush();
  }

  counters(): { pending_asks: number; late_replies: number; dropped_tells: number } {
    return { pending_asks: this.pending.size, late_replies: this.pending.late_replies, dropped_tells: this.dropped_tells };
  }
}

function notFound(address: string): MqError {
  return new MqError('ACTOR_NOT_FOUND', `no actor has the address '${address}'`);
}
