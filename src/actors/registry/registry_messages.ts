import avro from 'avsc';
import { defineProtocol, encodeToBuffer, type Codec } from '../../runtime/actor_protocol.js';
import { assert } from '../../runtime/assert.js';
import { registry_event_codec, type RegistryEvent } from './registry_events.js';

/**
 * The registry actor's vocabulary. Requests from the network carry the request body as it
 * arrived (`body`, Avro bytes of the wire schema): the actor decodes and validates it on its
 * own thread, and answers with the encoded wire response, so the connection's thread neither
 * decodes nor encodes namesrv requests. Bodies are protocol version 1 (the only one spoken);
 * a later version would add a `protocol_version` field here.
 */
export type RegistryMessage =
  /** REGISTER_BROKER over connection `connection_id` (evicted when that connection closes). */
  | { kind: 'register_broker'; connection_id: string; body: Buffer }
  | { kind: 'broker_heartbeat'; connection_id: string; body: Buffer }
  | { kind: 'unregister_broker'; body: Buffer }
  | { kind: 'get_route'; body: Buffer }
  | { kind: 'get_cluster_info'; body: Buffer }
  | { kind: 'get_topic_list'; body: Buffer }
  | { kind: 'delete_topic'; body: Buffer }
  /** A client connection closed: brokers that registered over it are gone. */
  | { kind: 'connection_closed'; connection_id: string }
  /** Evict brokers silent past the expiry (sent periodically by the nameserver). */
  | { kind: 'expire' };

export interface RegistryReply {
  /** The encoded wire response record (empty for connection_closed and expire). */
  response: Buffer;
  /** What the message changed, in order (registry_events.ts). */
  events: RegistryEvent[];
}

const connection_body = [
  { name: 'connection_id', type: 'string' },
  { name: 'body', type: 'bytes' },
];
const body_only = [{ name: 'body', type: 'bytes' }];

/** The reply crosses threads as `{response, events: [bytes of one event]}`: each event is
 *  encoded by the event union codec; nesting those bytes keeps every event self-delimited. */
const reply_wire_type = avro.Type.forSchema({
  type: 'record',
  name: 'RegistryReplyWire',
  fields: [
    { name: 'response', type: 'bytes' },
    { name: 'events', type: { type: 'array', items: 'bytes' } },
  ],
} as avro.Schema);

const event_scratch = Buffer.alloc(512);

const registry_reply_codec: Codec<RegistryReply> = {
  encode(value, target, position) {
    // Events are rare (registrations, evictions); a copy per event is not on any hot path.
    const events = value.events.map((event) => Buffer.from(encodeToBuffer(registry_event_codec, event, event_scratch)));
    return reply_wire_type.encode({ response: value.response, events }, target, position);
  },
  decode(source, position, end) {
    const view = end === source.length ? source : source.subarray(0, end);
    const read = reply_wire_type.decode(view, position);
    assert(read.offset === end, `registry reply: decoded ${read.offset - position} of ${end - position} bytes`);
    const wire = read.value as { response: Buffer; events: Buffer[] };
    return { response: wire.response, events: wire.events.map((bytes) => registry_event_codec.decode(bytes, 0, bytes.length)) };
  },
};

export const registry_protocol = defineProtocol<RegistryMessage, RegistryReply>(
  'namesrv.registry',
  {
    register_broker: connection_body,
    broker_heartbeat: connection_body,
    unregister_broker: body_only,
    get_route: body_only,
    get_cluster_info: body_only,
    get_topic_list: body_only,
    delete_topic: body_only,
    connection_closed: [{ name: 'connection_id', type: 'string' }],
    expire: [],
  },
  registry_reply_codec,
);

export interface RegistryArgs {
  broker_expiry_ms: number;
}

export const registry_address = 'namesrv/registry';
export const registry_module_url = new URL('./registry_actor.js', import.meta.url).href;
