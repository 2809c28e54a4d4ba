import type * as grpc from '@grpc/grpc-js';
import type { Account, Need } from '../auth/acl.js';
import type { GrpcAuth } from './grpc_auth.js';
import { grpc_limits } from './grpc_limits.js';
import { GrpcStatusError } from './grpc_status.js';
import { Code } from './grpc_types.js';

/**
 * Who is calling: what every RPC learns from the call's metadata before it does anything
 * (the RocketMQ 5 transport headers, rocketmq-client-nodejs src/client/BaseClient.ts:414-445):
 *
 * - `x-mq-client-id`: the client instance (one per Producer/Consumer object); Heartbeat,
 *   Telemetry and NotifyClientTermination key their state on it;
 * - `x-mq-namespace`: REFUSED when not empty. mq-node has no namespaces: a prefix applied
 *   silently would make the same topic two topics for our SDK and the RocketMQ clients, and
 *   the clients set it only on some resources (docs/rocketmq-compat.md). A client must be
 *   created with `namespace: ''`;
 * - `authorization` and `x-mq-date-time`: checked against the ACL when the node has one
 *   (grpc_auth.ts); without --acl-file nothing is checked and `account` is undefined.
 *
 * Runs on the main thread, once per call (a Telemetry stream: once when it opens).
 */
export interface GrpcCaller {
  /** The client's x-mq-client-id, '' when it sent none. */
  client_id: string;
  /** The signing account, or undefined with access control off. */
  account: Account | undefined;
  /** The peer's IP address ('' when grpc-js gives none we can read). */
  remote_ip: string;
}

/** The first text value of a metadata key. */
export function metadataText(metadata: grpc.Metadata, key: string): string | undefined {
  const [value] = metadata.get(key);
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.toString('utf8');
}

/** The IP address of a grpc-js peer string: `1.2.3.4:5678`, `[::1]:5678`, `ipv4:1.2.3.4:5678`. */
export function peerIp(peer: string): string {
  const text = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(text);
  if (bracketed !== null) return bracketed[1] as string;
  const at = text.lastIndexOf(':');
  return at > 0 && text.indexOf(':') === at ? text.slice(0, at) : text;
}

export class GrpcCallerGate {
  /** `auth` is undefined with access control off. */
  constructor(private readonly auth: GrpcAuth | undefined) {}

  get access_control(): boolean {
    return this.auth !== undefined;
  }

  /** The caller of a call, or a GrpcStatusError: namespace given (BAD_REQUEST), not signed properly (UNAUTHORIZED). */
  admit(metadata: grpc.Metadata, peer: string): GrpcCaller {
    const namespace = metadataText(metadata, 'x-mq-namespace') ?? '';
    if (namespace !== '') {
      throw new GrpcStatusError(Code.BAD_REQUEST, `namespaces are not supported by mq-node (x-mq-namespace is '${namespace.slice(0, grpc_limits.client_id_chars_max)}'): create the client with namespace ''`);
    }
    const client_id = metadataText(metadata, 'x-mq-client-id') ?? '';
    if (client_id.length > grpc_limits.client_id_chars_max) {
      throw new GrpcStatusError(Code.BAD_REQUEST, `x-mq-client-id has ${client_id.length} characters, more than ${grpc_limits.client_id_chars_max}`);
    }
    const remote_ip = peerIp(peer);
    const account = this.auth?.authenticate(metadataText(metadata, 'authorization'), metadataText(metadata, 'x-mq-date-time'), remote_ip);
    return { client_id, account, remote_ip };
  }

  /** Throws FORBIDDEN unless the caller may do what `need` says (nothing is checked with access control off). */
  require(caller: GrpcCaller, need: Need, rpc: string): void {
    if (this.auth === undefined || caller.account === undefined) return;
    this.auth.authorize(caller.account, need, rpc);
  }

  /** Whether the caller may do what `need` says, without a refusal logged (always with access control off). */
  allows(caller: GrpcCaller, need: Need): boolean {
    return this.auth === undefined || caller.account === undefined || this.auth.permits(caller.account, need);
  }

  /** The client id, or CLIENT_ID_REQUIRED (the RPCs that keep per-client state need it). */
  requireClientId(caller: GrpcCaller, rpc: string): string {
    if (caller.client_id === '') throw new GrpcStatusError(Code.CLIENT_ID_REQUIRED, `${rpc} needs the x-mq-client-id header (the RocketMQ clients always send it)`);
    return caller.client_id;
  }
}
