import { defineActor } from './actor.js';
import { probe_protocol, type ProbeMessage, type ProbeReply } from './probe_messages.js';

/**
 * The runtime's own actor, one per worker thread (`sys/probe/<thread>`): answering a ping
 * proves that the thread's event loop turns and its router delivers. /healthz is built on it.
 */
export const actor = defineActor<ProbeMessage, ProbeReply, { thread: number }>({
  name: 'probe',
  protocol: probe_protocol,
  create: (context) => ({
    receive(message) {
      switch (message.kind) {
        case 'ping':
          return { thread: context.thread, echo: message.echo };
      }
    },
  }),
});
