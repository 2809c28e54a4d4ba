import { avroCodec, defineProtocol } from './actor_protocol.js';

export type ProbeMessage = { kind: 'ping'; echo: number };
export interface ProbeReply {
  thread: number;
  echo: number;
}

export const probe_protocol = defineProtocol<ProbeMessage, ProbeReply>(
  'probe',
  { ping: [{ name: 'echo', type: 'long' }] },
  avroCodec<ProbeReply>({
    type: 'record',
    name: 'ProbeReply',
    fields: [
      { name: 'thread', type: 'int' },
      { name: 'echo', type: 'long' },
    ],
  }),
);

export const probe_module_url = new URL('./probe_actor.js', import.meta.url).href;

export function probeAddress(thread: number): string {
  return `sys/probe/${thread}`;
}
