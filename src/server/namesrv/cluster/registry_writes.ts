import type { RegistryCommand } from '../../../actors/registry/registry_commands.js';
import { request_codes } from '../../../protocol/index.js';
import { assert } from '../../../runtime/assert.js';
import { MqError } from '../../../runtime/errors.js';

/**
 * A registry write as it arrived at some nameserver: the wire request (code and body) and
 * the connection it came over (`<node>/<connection>`). A follower forwards exactly this to
 * the leader (NS_FORWARD), which turns it into a command stamped with its own clock.
 */
export interface RegistryWrite {
  code: number;
  connection_id: string;
  body: Buffer;
}

/** NS_FORWARD's code for "this connection closed" (no request of its own exists). */
export const connection_closed_code = 0;

const write_codes: ReadonlySet<number> = new Set([
  request_codes.REGISTER_BROKER,
  request_codes.BROKER_HEARTBEAT,
  request_codes.UNREGISTER_BROKER,
  request_codes.DELETE_TOPIC_IN_NAMESRV,
  connection_closed_code,
]);

const read_codes: ReadonlySet<number> = new Set([request_codes.GET_ROUTE, request_codes.GET_CLUSTER_INFO, request_codes.GET_TOPIC_LIST]);

export function isWriteCode(code: number): boolean {
  return write_codes.has(code);
}

export function isReadCode(code: number): boolean {
  return read_codes.has(code);
}

/** The command the leader logs for a write it takes at `at_ms`. */
export function commandOf(write: RegistryWrite, at_ms: number): RegistryCommand {
  switch (write.code) {
    case request_codes.REGISTER_BROKER:
      return { kind: 'register_broker', at_ms, connection_id: write.connection_id, body: write.body };
    case request_codes.BROKER_HEARTBEAT:
      return { kind: 'broker_heartbeat', at_ms, connection_id: write.connection_id, body: write.body };
    case request_codes.UNREGISTER_BROKER:
      return { kind: 'unregister_broker', at_ms, body: write.body };
    case request_codes.DELETE_TOPIC_IN_NAMESRV:
      return { kind: 'delete_topic', at_ms, body: write.body };
    case connection_closed_code:
      return { kind: 'connection_closed', at_ms, connection_id: write.connection_id };
    default:
      assert(!isWriteCode(write.code), `write code ${write.code} has no command`);
      throw new MqError('BAD_REQUEST', `request code ${write.code} is no registry write`);
  }
}
