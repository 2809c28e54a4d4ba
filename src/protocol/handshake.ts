/**
 * Version negotiation, as pure functions. The client's first frame is HELLO with the range
 * of versions it speaks; the server picks the highest version in both ranges and answers
 * HelloAck (or an error response with the UNSUPPORTED_VERSION message below); the client
 * checks that the chosen version is one it offered. Both then use that version's schemas
 * (schemas/index.ts) for every later frame of the connection.
 */
import { failed, ok, ProtocolError, type Result } from './protocol_error.js';
import type { ClientKind, Hello, HelloAck } from './schemas/handshake.js';
import { protocol_version_max, protocol_version_min } from './schemas/index.js';

export interface VersionRange {
  version_min: number;
  version_max: number;
}

/** What this build speaks. */
export const supported_versions: VersionRange = { version_min: protocol_version_min, version_max: protocol_version_max };

function isValidRange(min: number, max: number): boolean {
  return Number.isInteger(min) && Number.isInteger(max) && min >= 1 && min <= max;
}

/** The highest version both ranges contain, or UNSUPPORTED_VERSION saying who must upgrade. */
export function negotiateVersion(
  hello: Pick<Hello, 'versionMin' | 'versionMax'>,
  server: VersionRange = supported_versions,
): Result<number> {
  const { versionMin: client_min, versionMax: client_max } = hello;
  if (!isValidRange(client_min, client_max)) {
    return failed(
      new ProtocolError(
        'UNSUPPORTED_VERSION',
        `the client offered protocol versions ${client_min}..${client_max}, which is no valid range (need 1 <= min <= max)`,
      ),
    );
  }
  const chosen = Math.min(client_max, server.version_max);
  if (chosen < Math.max(client_min, server.version_min)) {
    const who = client_max < server.version_min ? 'upgrade the client' : 'upgrade the server';
    return failed(
      new ProtocolError(
        'UNSUPPORTED_VERSION',
        `no common protocol version: the client speaks ${client_min}..${client_max}, ` +
          `the server ${server.version_min}..${server.version_max}; ${who}`,
      ),
    );
  }
  return ok(chosen);
}

/** The client's HELLO for this build's versions. */
export function helloFor(client_id: string, client_kind: ClientKind, range: VersionRange = supported_versions): Hello {
  return { versionMin: range.version_min, versionMax: range.version_max, clientId: client_id, clientKind: client_kind };
}

/** The server's answer to a HELLO: the HelloAck, or why the connection cannot proceed. */
export function acceptHello(
  hello: Pick<Hello, 'versionMin' | 'versionMax'>,
  server: { server_id: string; frame_bytes_max: number; range?: VersionRange },
): Result<HelloAck> {
  const negotiated = negotiateVersion(hello, server.range ?? supported_versions);
  if (!negotiated.ok) return negotiated;
  return ok({ version: negotiated.value, serverId: server.server_id, frameBytesMax: server.frame_bytes_max });
}

/** The client's check of a HelloAck: the chosen version must be one it offered. */
export function checkHelloAck(ack: Pick<HelloAck, 'version'>, offered: VersionRange = supported_versions): Result<number> {
  if (!Number.isInteger(ack.version) || ack.version < offered.version_min || ack.version > offered.version_max) {
    return failed(
      new ProtocolError(
        'UNSUPPORTED_VERSION',
        `the server chose protocol version ${ack.version}, which the client did not offer ` +
          `(${offered.version_min}..${offered.version_max}); the server is misbehaving, close the connection`,
      ),
    );
  }
  return ok(ack.version);
}
