import type { RegistryMessage, RegistryReply } from '../../actors/registry/registry_messages.js';
import type { ActorRef } from '../../runtime/actor_ref.js';
import { MqError } from '../../runtime/errors.js';
import type { EventBus } from './event_bus.js';
import { namesrv_limits } from './namesrv_limits.js';

/**
 * The nameserver's side of the registry actor, on the main thread.
 *
 * Queries (routes, cluster info, topic list, heartbeats) go straight to the actor: two
 * thread hand-offs per request (there and back), many in flight. Changes (register,
 * unregister, delete, evictions) go one at a time, and each change's events are published
 * to the event bus as its reply arrives, before the next change is sent: so plugins see
 * events in the order the registry made them, whatever the timing of replies. Changes are
 * rare (a registration per broker per data change, evictions), so waiting costs nothing.
 */
export class RegistryClient {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  constructor(
    private readonly registry: ActorRef<RegistryMessage, RegistryReply>,
    private readonly bus: EventBus,
  ) {}

  /** A request that changes nothing: the encoded wire response. */
  async query(message: RegistryMessage): Promise<Buffer> {
    return (await this.registry.ask(message)).response;
  }

  /** A request that may change the registry: runs after every earlier change; its events
   *  reach the bus before its response is returned. */
  change(message: RegistryMessage): Promise<Buffer> {
    if (this.queued >= namesrv_limits.changes_queued_max) {
      return Promise.reject(new MqError('BUSY', `${this.queued} registry changes are waiting; retry shortly`));
    }
    this.queued++;
    const result = this.tail
      .then(() => this.registry.ask(message))
      .then((reply) => {
        this.bus.publish(reply.events);
        return reply.response;
      })
      .finally(() => {
        this.queued--;
      });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every change sent so far has been answered. */
  async settled(): Promise<void> {
    await this.tail;
  }
}
