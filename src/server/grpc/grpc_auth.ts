import { createHmac } from 'node:crypto';
import { signaturesEqual } from '../../protocol/index.js';
import { system_clock, type Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/log.js';
import { LogThrottle } from '../../runtime/log_throttle.js';
import type { Account, Acl, Need } from '../auth/acl.js';
import { request_auth_limits } from '../auth/request_auth.js';
import { grpc_limits } from './grpc_limits.js';
import { GrpcStatusError } from './grpc_status.js';
import { Code } from './grpc_types.js';

/**
 * Access control on the gRPC endpoint (the node runs with --acl-file), as the RocketMQ 5
 * clients sign their calls (their transport spec; rocketmq-client-nodejs
 * src/client/BaseClient.ts:414-445, src/util/index.ts:35-45):
 *
 *   x-mq-date-time: 20240102T030405Z          (UTC, whole seconds)
 *   authorization:  MQv2-HMAC-SHA1 Credential=<access key>, SignedHeaders=x-mq-date-time,
 *                   Signature=<HEX-UPPER(HMAC-SHA1(secret key, x-mq-date-time))>
 *
 * The account must be in the node's ACL, the signature must match, the date-time must be
 * within --acl-window-ms of the node's clock (plus the second the format truncates), and the
 * source address must be one the account allows. A failure is UNAUTHORIZED (40100) — one
 * answer for an unknown key and a wrong signature, so a caller without a secret learns
 * nothing about which keys exist; the log tells them apart. A known account without the
 * permission a call needs is FORBIDDEN (40300).
 *
 * What this scheme cannot do, unlike the remoting protocol's signature (request_signature.ts):
 * it signs only the date-time, not the request, so a captured header is valid for any call
 * within the window. TLS (--tls-cert) is what protects it on the wire. The clients' STS
 * `x-mq-session-token` is not used.
 *
 * Owned by the main thread (the gRPC server's callbacks run there).
 */
export interface GrpcAuthOptions {
  /** The ACL in force, read at every call (a reload applies to the next call). */
  acl: () => Acl;
  window_ms: number;
  log: Logger;
  clock?: Clock;
}

/** `yyyyMMdd'T'HHmmss'Z'`. */
const date_time_pattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const authorization_pattern = /^MQv2-HMAC-SHA1 Credential=([^,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([0-9A-Fa-f]+)$/;
/** The date-time has whole seconds: a call signed at 12:00:00.999 says 12:00:00. */
const date_time_resolution_ms = 1_000;

/** Milliseconds since the epoch of an x-mq-date-time value, or undefined when it is not one. */
export function parseRequestDateTime(value: string): number | undefined {
  const match = date_time_pattern.exec(value);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  // Date.UTC rolls 20240230 over into March: a date that does not exist is not a date-time.
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || check.getUTCHours() !== hour || check.getUTCMinutes() !== minute) return undefined;
  return ms;
}

/** The signature a client computes: HEX-UPPER(HMAC-SHA1(secret, date-time)). */
export function signDateTime(secret_key: string, date_time: string): string {
  return createHmac('sha1', secret_key).update(date_time).digest('hex').toUpperCase();
}

export class GrpcAuth {
  private readonly clock: Clock;
  private readonly log_throttle: LogThrottle;

  constructor(private readonly options: GrpcAuthOptions) {
    this.clock = options.clock ?? system_clock;
    this.log_throttle = new LogThrottle({ interval_ms: request_auth_limits.denied_log_interval_ms, keys_max: request_auth_limits.denied_log_keys_max, clock: this.clock });
  }

  /** The account that signed the call; throws GrpcStatusError(UNAUTHORIZED or FORBIDDEN) otherwise. */
  authenticate(authorization: string | undefined, date_time: string | undefined, remote_ip: string): Account {
    if (authorization === undefined || authorization === '') {
      throw this.refused(Code.UNAUTHORIZED, 'the call is not signed: this node runs with access control; give the client sessionCredentials {accessKey, accessSecret} of an account in its ACL', { remote: remote_ip }, 'unsigned');
    }
    if (authorization.length > grpc_limits.authorization_chars_max) {
      throw this.refused(Code.UNAUTHORIZED, `the authorization header is longer than ${grpc_limits.authorization_chars_max} characters`, { remote: remote_ip }, 'long header');
    }
    const parsed = authorization_pattern.exec(authorization);
    if (parsed === null) {
      throw this.refused(Code.UNAUTHORIZED, "the authorization header is not 'MQv2-HMAC-SHA1 Credential=<access key>, SignedHeaders=x-mq-date-time, Signature=<hex>'", { remote: remote_ip }, 'bad header');
    }
    const [, access_key, signed_headers, signature] = parsed as unknown as [string, string, string, string];
    if (signed_headers.toLowerCase() !== 'x-mq-date-time') {
      throw this.refused(Code.UNAUTHORIZED, `SignedHeaders is '${signed_headers}'; this node checks signatures over x-mq-date-time`, { remote: remote_ip, account: access_key });
    }
    const signed_ms = date_time === undefined ? undefined : parseRequestDateTime(date_time);
    if (date_time === undefined || signed_ms === undefined) {
      throw this.refused(Code.UNAUTHORIZED, "the x-mq-date-time header is missing or not yyyyMMdd'T'HHmmss'Z'", { remote: remote_ip, account: access_key });
    }
    const acl = this.options.acl();
    const account = acl.account(access_key);
    const unknown_or_unsigned = `access key "${access_key}" is unknown here, or the signature does not match (a wrong secret key)`;
    if (account === undefined) throw this.refused(Code.UNAUTHORIZED, unknown_or_unsigned, { remote: remote_ip, account: access_key, log_reason: 'unknown access key' }, 'unknown access key');
    if (!signaturesEqual(signDateTime(account.secretKey, date_time), signature.toUpperCase())) {
      throw this.refused(Code.UNAUTHORIZED, unknown_or_unsigned, { remote: remote_ip, account: access_key, log_reason: 'signature does not match' });
    }
    const skew_ms = this.clock.nowMs() - signed_ms;
    if (skew_ms > this.options.window_ms + date_time_resolution_ms || -skew_ms > this.options.window_ms) {
      throw this.refused(Code.UNAUTHORIZED, `the call was signed at ${date_time}, more than ${this.options.window_ms} ms from this node's clock (clocks apart: sync them)`, { remote: remote_ip, account: access_key });
    }
    if (!acl.addressAllowed(access_key, remote_ip)) {
      throw this.refused(Code.FORBIDDEN, `account "${access_key}" may not connect from ${remote_ip}`, { remote: remote_ip, account: access_key });
    }
    return account;
  }

  /** Whether `account` may do what `need` says, by the ACL in force now. */
  permits(account: Account, need: Need): boolean {
    return this.options.acl().permits(account, need);
  }

  /** Throws GrpcStatusError(FORBIDDEN) unless `account` may do what `need` says. */
  authorize(account: Account, need: Need, rpc: string): void {
    if (this.options.acl().permits(account, need)) return;
    const what = need.kind === 'admin' ? 'admin calls' : need.kind === 'group' ? `group ${need.group}` : `${need.perm} on topic ${need.topic}`;
    throw this.refused(Code.FORBIDDEN, `account "${account.accessKey}" may not use ${what}`, {
      account: account.accessKey,
      rpc,
      resource: need.kind === 'admin' ? 'admin' : need.kind === 'group' ? `group:${need.group}` : `topic:${need.topic}:${need.perm}`,
    });
  }

  private refused(code: number, reason: string, fields: Record<string, unknown>, throttle_key = `${String(fields['account'] ?? '')}|${reason.slice(0, 40)}`): GrpcStatusError {
    if (this.log_throttle.allow(throttle_key)) this.options.log.warn({ ...fields, reason, listener: 'grpc' }, 'access denied');
    return new GrpcStatusError(code, reason);
  }
}
