import type { ActorProtocol } from './actor_protocol.js';

/** What a reference needs from the thread it lives on (the Router implements it). */
export interface MessageSender {
  tell<M extends { kind: string }, R>(address: string, protocol: ActorProtocol<M, R>, message: M): boolean;
  ask<M extends { kind: string }, R>(address: string, protocol: ActorProtocol<M, R>, message: M, timeout_ms?: number): Promise<R>;
}

/**
 * A typed handle on an actor, usable from the thread that made it. Sending to an actor on
 * the same thread is a queue push; to another thread, an Avro-encoded envelope in the next
 * batch to that thread.
 */
export class ActorRef<M extends { kind: string }, R> {
  constructor(
    private readonly sender: MessageSender,
    readonly address: string,
    readonly protocol: ActorProtocol<M, R>,
  ) {}

  /** Fire and forget. Returns false when the message was dropped at once (no actor has that
   *  address on this thread's map yet, its thread is down, or its mailbox is full); true
   *  means queued, not delivered. Use `ask` for
   *  anything that must not be lost. */
  tell(message: M): boolean {
    return this.sender.tell(this.address, this.protocol, message);
  }

  /** Request and reply. Rejects with an MqError: TIMEOUT, BUSY (mailbox full),
   *  ACTOR_UNAVAILABLE (thread died, restart storm), ACTOR_NOT_FOUND, SHUTTING_DOWN, or
   *  whatever MqError the actor's handler threw. */
  ask(message: M, options: { timeout_ms?: number } = {}): Promise<R> {
    return this.sender.ask(this.address, this.protocol, message, options.timeout_ms);
  }
}
