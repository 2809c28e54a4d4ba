import type { RegistryCommand } from '../../actors/registry/registry_commands.js';
import { encodeRegistryCommand } from '../../actors/registry/registry_commands.js';
import type { RegistryMessage, RegistryReply } from '../../actors/registry/registry_messages.js';
import type { ActorRef } from '../../runtime/actor_ref.js';
import { MqError } from '../../runtime/errors.js';
import type { EventBus } from './event_bus.js';
import { namesrv_limits } from './namesrv_limits.js';

/**
 * The nameserver's side of the registry actor, on the main thread.
 *
 * Queries (routes, cluster info, topic list, log reads) go straight to the actor: two thread
 * hand-offs per request, many in flight. Changes (commands a leader executes, entries a
 * follower replicates) go one at a time, and each change's events are published to the
 * event bus as its reply arrives, before the next change is sent: so plugins see events in
 * the order the registry made them, whatever the timing of replies.
 */
export class RegistryClient {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private readonly appended_listeners: Array<(reply: RegistryReply) => void> = [];

  constructor(
    private readonly registry: ActorRef<RegistryMessage, RegistryReply>,
    private readonly bus: EventBus,
  ) {}

  /** A request that changes nothing: the encoded response. */
  async query(message: RegistryMessage): Promise<Buffer> {
    return (await this.registry.ask(message)).response;
  }

  /** Where the log ends now. */
  async position(): Promise<{ last_seq: number; last_term: number }> {
    const reply = await this.registry.ask({ kind: 'position' });
    return { last_seq: reply.last_seq, last_term: reply.last_term };
  }

  async snapshot(): Promise<{ seq: number; bytes: Buffer }> {
    const reply = await this.registry.ask({ kind: 'take_snapshot' });
    return { seq: reply.last_seq, bytes: reply.response };
  }

  /** Applies a command as this node's own (leader, or alone) and logs it in `term`. */
  execute(term: number, command: RegistryCommand): Promise<RegistryReply> {
    return this.change({ kind: 'execute', term, command: encodeRegistryCommand(command) });
  }

  /** Applies what the upstream answered to a fetch (an encoded NsFetchResponse). */
  replicate(fetched: Buffer): Promise<RegistryReply> {
    return this.change({ kind: 'replicate', fetched });
  }

  /** Called after every change with its reply (the log's new end). */
  onChange(listener: (reply: RegistryReply) => void): void {
    this.appended_listeners.push(listener);
  }

  /** Resolves once every change sent so far has been answered. */
  async settled(): Promise<void> {
    await this.tail;
  }

  private change(message: RegistryMessage): Promise<RegistryReply> {
    if (this.queued >= namesrv_limits.changes_queued_max) {
      return Promise.reject(new MqError('BUSY', `${this.queued} registry changes are waiting; retry shortly`));
    }
    this.queued++;
    const result = this.tail
      .then(() => this.registry.ask(message))
      .then((reply) => {
        this.bus.publish(reply.events);
        for (const listener of this.appended_listeners) listener(reply);
        return reply;
      })
      .finally(() => {
        this.queued--;
      });
    this.tail = result.catch(() => undefined);
    return result;
  }
}
