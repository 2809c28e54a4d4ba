import avro from 'avsc';
import { defineProtocol, encodeToBuffer, type Codec } from '../../runtime/actor_protocol.js';
import { assert } from '../../runtime/assert.js';
import { registry_event_codec, type RegistryEvent } from './registry_events.js';

/**
 * The registry actor's vocabulary. Changes arrive as commands (registry_commands.ts, already
 * encoded: the leader logs exactly those bytes); queries carry the request body as it
 * arrived (Avro bytes of the wire schema). The actor decodes and validates on its own
 * thread and answers with encoded wire responses, so the connection's thread neither
 * decodes nor encodes namesrv requests. Bodies are protocol version 1 (the only one spoken).
 */
export type RegistryMessage =
  /** Leader (or a node alone): apply a command and log it as an entry of `term`. */
  | { kind: 'execute'; term: number; command: Buffer }
  /** Follower: apply entries from the upstream, in order (`entries`: an encoded NsFetchResponse). */
  | { kind: 'replicate'; fetched: Buffer }
  /** Upstream: the NsFetchResponse for a follower's NS_FETCH (entries, or a snapshot). */
  | { kind: 'read_log'; from_seq: number; prev_term: number; bytes_max: number }
  /** The registry as an encoded RegistrySnapshot (for NS_STATUS). */
  | { kind: 'take_snapshot' }
  | { kind: 'get_route'; body: Buffer }
  | { kind: 'get_cluster_info'; body: Buffer }
  | { kind: 'get_topic_list'; body: Buffer }
  /** Where the log ends (for elections and status). */
  | { kind: 'position' };

export interface RegistryReply {
  /** The encoded wire response record (empty where the message has none). */
  response: Buffer;
  /** What the message changed, in order (registry_events.ts). */
  events: RegistryEvent[];
  /** The log's end after the message. */
  last_seq: number;
  last_term: number;
  /** execute: whether the command changed anything and was logged (as entry `last_seq`). */
  logged: boolean;
  /** replicate: whether a snapshot replaced the registry. */
  installed_snapshot: boolean;
}

const body_only = [{ name: 'body', type: 'bytes' }];

/** The reply crosses threads with each event encoded by the event union codec; nesting
 *  those bytes keeps every event self-delimited. */
const reply_wire_type = avro.Type.forSchema({
  type: 'record',
  name: 'RegistryReplyWire',
  fields: [
    { name: 'response', type: 'bytes' },
    { name: 'events', type: { type: 'array', items: 'bytes' } },
    { name: 'last_seq', type: 'long' },
    { name: 'last_term', type: 'long' },
    { name: 'logged', type: 'boolean' },
    { name: 'installed_snapshot', type: 'boolean' },
  ],
} as avro.Schema);

const event_scratch = Buffer.alloc(512);

const registry_reply_codec: Codec<RegistryReply> = {
  encode(value, target, position) {
    // Events are rare (registrations, evictions); a copy per event is not on any hot path.
    const events = value.events.map((event) => Buffer.from(encodeToBuffer(registry_event_codec, event, event_scratch)));
    return reply_wire_type.encode({ ...value, events }, target, position);
  },
  decode(source, position, end) {
    const view = end === source.length ? source : source.subarray(0, end);
    const read = reply_wire_type.decode(view, position);
    assert(read.offset === end, `registry reply: decoded ${read.offset - position} of ${end - position} bytes`);
    const wire = read.value as Omit<RegistryReply, 'events'> & { events: Buffer[] };
    return { ...wire, events: wire.events.map((bytes) => registry_event_codec.decode(bytes, 0, bytes.length)) };
  },
};

export const registry_protocol = defineProtocol<RegistryMessage, RegistryReply>(
  'namesrv.registry',
  {
    execute: [{ name: 'term', type: 'long' }, { name: 'command', type: 'bytes' }],
    replicate: [{ name: 'fetched', type: 'bytes' }],
    read_log: [{ name: 'from_seq', type: 'long' }, { name: 'prev_term', type: 'long' }, { name: 'bytes_max', type: 'int' }],
    take_snapshot: [],
    get_route: body_only,
    get_cluster_info: body_only,
    get_topic_list: body_only,
    position: [],
  },
  registry_reply_codec,
);

export interface RegistryArgs {
  broker_expiry_ms: number;
  /** Where the registry's snapshot and log are kept; empty: in memory only (a nameserver
   *  without peers, whose brokers re-register after a restart). */
  journal_dir: string;
}

export const registry_address = 'namesrv/registry';
export const registry_module_url = new URL('./registry_actor.js', import.meta.url).href;
