import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

export type FlushMessage =
  /** Flush what is written now (or as soon as the running flush ends): coalesced. */
  | { kind: 'flush' }
  /** Flush what is written now and answer once it is durable (the writer's stop). */
  | { kind: 'flush_now' };

export const flush_protocol = defineProtocol<FlushMessage, number>(
  'store.flush',
  { flush: [], flush_now: [] },
  avroCodec<number>('long'),
);

export const flush_address = 'store/flush';
export const flush_module_url = new URL('./flush_actor.js', import.meta.url).href;
