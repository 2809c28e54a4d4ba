import { defineActor, type ActorContext } from '../../runtime/actor.js';
import { OffsetStore, offset_store_limits } from '../../storage/offset_store.js';
import { offsetsPath } from '../../storage/storage_paths.js';
import type { StoreArgs } from '../store/store_args.js';
import { offset_store_protocol, type OffsetStoreMessage } from './offset_store_messages.js';

/**
 * Consumer-group offsets: kept in memory, written whole (atomically) every interval when
 * something changed, and at stop. A crash loses at most one interval of commits, which
 * consumers then re-read (at-least-once).
 */
class OffsetStoreActor {
  private readonly store: OffsetStore;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly context: ActorContext,
    args: StoreArgs,
  ) {
    this.store = new OffsetStore({ path: offsetsPath(args.data_dir), log: context.log });
  }

  start(): void {
    const loaded = this.store.load();
    this.context.log.info({ entries: loaded }, 'consumer offsets loaded');
    this.timer = setInterval(() => this.store.persist(), offset_store_limits.persist_interval_ms_default);
  }

  receive(message: OffsetStoreMessage): number {
    switch (message.kind) {
      case 'commit':
        this.store.commit(message.group, message.topic, message.queue_id, message.offset);
        return this.store.query(message.group, message.topic, message.queue_id);
      case 'reset':
        this.store.reset(message.group, message.topic, message.queue_id, message.offset);
        return message.offset;
      case 'query':
        return this.store.query(message.group, message.topic, message.queue_id);
      case 'persist':
        this.store.persist();
        return this.store.size;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.store.persist();
  }

  inspect(): Record<string, unknown> {
    return { entries: this.store.size, groups: this.store.groups().length, dirty: this.store.dirty };
  }
}

export const actor = defineActor<OffsetStoreMessage, number, StoreArgs>({
  name: 'offset_store',
  protocol: offset_store_protocol,
  create: (context, args) => new OffsetStoreActor(context, args),
});
