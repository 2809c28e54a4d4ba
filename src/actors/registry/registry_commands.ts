import { encodeToBuffer, unionCodec, type AvroFields } from '../../runtime/actor_protocol.js';

/**
 * A change to the registry, as the leader logs it and every replica applies it. Commands are
 * deterministic: everything the registry reads while applying one is in the command, so
 * every replica that applies the same commands in the same order holds the same registry.
 * Time is the leader's wall clock when it took the command (`at_ms`): heard times and
 * expiry are computed from it, never from the replica's own clock.
 *
 * `body` is the wire request record as the broker or admin sent it (protocol version 1);
 * `connection_id` is `<node>/<connection>` (the nameserver the request arrived at and its
 * connection there), so a broker is evicted when the connection it last spoke over closes.
 */
export type RegistryCommand =
  | { kind: 'register_broker'; at_ms: number; connection_id: string; body: Buffer }
  | { kind: 'broker_heartbeat'; at_ms: number; connection_id: string; body: Buffer }
  | { kind: 'unregister_broker'; at_ms: number; body: Buffer }
  | { kind: 'delete_topic'; at_ms: number; body: Buffer }
  | { kind: 'connection_closed'; at_ms: number; connection_id: string }
  /** Evict brokers silent past the expiry at `at_ms`. */
  | { kind: 'expire'; at_ms: number }
  /** A new leader took over at `at_ms`: every broker counts as heard then, so none is evicted
   *  for the silence of an election (they heartbeat the new leader within one interval). */
  | { kind: 'lead'; at_ms: number; leader: string };

export type RegistryCommandKind = RegistryCommand['kind'];

const at = { name: 'at_ms', type: 'long' };
const connection = { name: 'connection_id', type: 'string' };
const body = { name: 'body', type: 'bytes' };

const command_kinds: Readonly<Record<RegistryCommandKind, AvroFields>> = {
  register_broker: [at, connection, body],
  broker_heartbeat: [at, connection, body],
  unregister_broker: [at, body],
  delete_topic: [at, body],
  connection_closed: [at, connection],
  expire: [at],
  lead: [at, { name: 'leader', type: 'string' }],
};

export const registry_command_codec = unionCodec<RegistryCommand>('namesrv.registry_command', command_kinds);

const command_scratch = Buffer.alloc(4096);

/** The command's bytes, in a buffer of their own (they are kept in the log). */
export function encodeRegistryCommand(command: RegistryCommand): Buffer {
  return Buffer.from(encodeToBuffer(registry_command_codec, command, command_scratch));
}

export function decodeRegistryCommand(bytes: Buffer): RegistryCommand {
  return registry_command_codec.decode(bytes, 0, bytes.length);
}
