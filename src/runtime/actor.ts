import type { ActorProtocol } from './actor_protocol.js';
import type { ActorRef } from './actor_ref.js';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';

/**
 * An actor: state owned by exactly one thread, changed only by its own `receive`, which the
 * runtime calls with one message at a time (the next message waits until a returned promise
 * settles). There are no locks inside an actor because nothing else can touch its state.
 *
 * Lifecycle: `create` → `start` (load durable state) → `receive`* → `stop` (flush, close).
 * If `receive` or `start` throws anything but an MqError, the instance is dropped and a new
 * one is created with the same arguments after a backoff: whatever the actor must not
 * forget has to be in its durable state (files), which `start` reads back.
 */
export interface Actor<M extends { kind: string }, R> {
  start?(): void | Promise<void>;
  /** The returned value is the reply when the message came by `ask`; ignored for `tell`.
   *  Throwing an MqError answers the ask with that error and keeps the actor running. */
  receive(message: M): R | Promise<R>;
  stop?(): void | Promise<void>;
  /** Extra state for the inspector (small, plain data). */
  inspect?(): Record<string, unknown>;
}

/**
 * A reply that comes later without holding up the mailbox. Returning a promise from
 * `receive` makes the actor wait for it before the next message (one message at a time);
 * returning `deferReply(promise)` instead answers the ask when the promise settles while the
 * actor goes on with its next messages. For waits that are not the actor's own work: a
 * writer that acknowledges a record once a flush, done elsewhere, covers it (group commit).
 */
export class DeferredReply<R> {
  constructor(readonly reply: Promise<R>) {}
}

export function deferReply<R>(reply: Promise<R>): R {
  // Typed as R so that `receive` keeps its declared reply type; the cell recognises the class.
  return new DeferredReply(reply) as unknown as R;
}

/** What an actor may use of the runtime. */
export interface ActorContext {
  readonly address: string;
  /** The index of the hosting thread (1..threads). */
  readonly thread: number;
  readonly log: Logger;
  readonly clock: Clock;
  /** A reference to another actor by address (on this thread or another). */
  actorOf<M extends { kind: string }, R>(address: string, protocol: ActorProtocol<M, R>): ActorRef<M, R>;
  /** Spawns another actor (through the main thread's ActorSystem). Rejects with BAD_REQUEST
   *  if the address is taken: two actors racing to create the same one can both go on. */
  spawn<M extends { kind: string }, R, A>(options: ActorSpawnOptions<M, R, A>): Promise<ActorRef<M, R>>;
}

export interface ActorSpawnOptions<M extends { kind: string }, R, A> {
  address: string;
  /** Module that exports `actor` (an ActorDefinition). */
  module: URL | string;
  protocol: ActorProtocol<M, R>;
  args?: A;
  /** Worker thread (1..threads); default: the one hosting the fewest actors. */
  thread?: number;
  mailbox_messages_max?: number;
}

/** An actor kind. A module that defines one exports it as `actor`, so that a worker thread
 *  can load it by module URL: `export const actor = defineActor({ ... })`. */
export interface ActorDefinition<M extends { kind: string }, R, A> {
  /** Shown as `kind` in stats and the inspector. */
  readonly name: string;
  readonly protocol: ActorProtocol<M, R>;
  create(context: ActorContext, args: A): Actor<M, R>;
}

export function defineActor<M extends { kind: string }, R, A>(definition: ActorDefinition<M, R, A>): ActorDefinition<M, R, A> {
  return definition;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyActorDefinition = ActorDefinition<any, any, any>;
