import { avroCodec, defineProtocol } from '../../src/runtime/actor_protocol.js';

/** The store bench's probe: `tid` answers the kernel thread id of the actor's thread, so the
 *  bench can read that thread's CPU and run-queue times from /proc. */
export type ThreadProbeMessage = { kind: 'tid' };

export const thread_probe_protocol = defineProtocol<ThreadProbeMessage, number>('bench.thread_probe', { tid: [] }, avroCodec<number>('long'));

export const thread_probe_module_url = new URL('./store_thread_probe_actor.js', import.meta.url).href;

export function threadProbeAddress(thread: number): string {
  return `bench/thread-probe/${thread}`;
}
