import fs from 'node:fs';
import { defineActor } from '../../src/runtime/actor.js';
import { thread_probe_protocol, type ThreadProbeMessage } from './store_thread_probe_messages.js';

/** Answers its thread's kernel id, read from /proc/thread-self (`<pid>/task/<tid>`); 0 where
 *  /proc is missing (then the bench reports no per-thread figures). */
function kernelThreadId(): number {
  try {
    return Number(fs.readlinkSync('/proc/thread-self').split('/').pop()) || 0;
  } catch {
    return 0;
  }
}

export const actor = defineActor<ThreadProbeMessage, number, undefined>({
  name: 'bench_thread_probe',
  protocol: thread_probe_protocol,
  create: () => ({
    receive(message) {
      switch (message.kind) {
        case 'tid':
          return kernelThreadId();
      }
    },
  }),
});
