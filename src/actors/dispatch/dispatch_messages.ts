import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

export type DispatchMessage =
  /** Internal: follow the CommitLog a step further. */
  | { kind: 'tick' }
  | { kind: 'status' };

export const dispatch_protocol = defineProtocol<DispatchMessage, number>(
  'store.dispatch',
  { tick: [], status: [] },
  avroCodec<number>('long'),
);

export const dispatch_address = 'store/dispatch';
export const dispatch_module_url = new URL('./dispatch_actor.js', import.meta.url).href;
