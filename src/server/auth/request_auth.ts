import { computeSignature, parseSignatureHeaders, requestCodeName, signaturesEqual, type Envelope } from '../../protocol/index.js';
import { system_clock, type Clock } from '../../runtime/clock.js';
import { MqError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { LogThrottle } from '../../runtime/log_throttle.js';
import type { Account, Acl, Need } from './acl.js';
import { ReplayGuard } from './replay_guard.js';

export const request_auth_defaults = {
  /** A signed request more than this away from the node's clock is refused (either way). */
  window_ms: 60_000,
} as const;

export const request_auth_limits = {
  /** A refusal with the same reason and account is logged at most this often. */
  denied_log_interval_ms: 1_000,
  /** Reasons remembered for that (the table starts over beyond). */
  denied_log_keys_max: 10_000,
} as const;

/** The checks of one listener: who sent a request, and whether that one may do it. */
export interface RequestAuthOptions {
  /** The ACL in force (read at every request: a reload applies to the next one). */
  acl: () => Acl;
  window_ms: number;
  log: Logger;
  clock?: Clock;
}

/**
 * Access control at a listener (ACL on): every request after HELLO must be signed by an
 * account of the ACL (request_signature.ts), from an address the account allows, within the
 * timestamp window, and not seen before; then each handler asks whether the account may do
 * what the request does (`authorize`). Everything refused answers ACCESS_DENIED with the
 * reason and is logged with the account and the resource, at most once a second per reason
 * (a flood of bad requests must not flood the log).
 *
 * Owned by the listener's thread. The ReplayGuard is per listener: a signature names the
 * server id it is for (request_signature.ts), so a request replayed to another listener or
 * node does not verify there.
 */
export class RequestAuth {
  private readonly replays: ReplayGuard;
  private readonly clock: Clock;
  private readonly log_throttle: LogThrottle;

  constructor(private readonly options: RequestAuthOptions) {
    this.replays = new ReplayGuard(options.window_ms);
    this.clock = options.clock ?? system_clock;
    this.log_throttle = new LogThrottle({ interval_ms: request_auth_limits.denied_log_interval_ms, keys_max: request_auth_limits.denied_log_keys_max, clock: this.clock });
  }

  /** The account that signed `request`; throws ACCESS_DENIED when none did, properly. */
  authenticate(request: Envelope, oneway: boolean, remote_ip: string, server_id: string): Account {
    const parsed = parseSignatureHeaders(request.headers);
    if (!parsed.ok) throw this.denied(parsed.reason, { remote: remote_ip, code: request.code });
    const { fields } = parsed;
    const acl = this.options.acl();
    const account = acl.account(fields.access_key);
    // One answer for an unknown key and a wrong signature, as the admin port gives: a peer
    // without a secret learns nothing about which access keys exist. The log tells them apart.
    const unknown_or_unsigned = `access key "${fields.access_key}" is unknown here, or the signature does not match (a wrong secret key, a request changed on its way, or signed for another server)`;
    if (account === undefined) {
      // Made-up keys share one log line a second: the throttle key leaves the key out.
      throw this.denied(unknown_or_unsigned, { remote: remote_ip, account: fields.access_key, log_reason: 'unknown access key' }, 'unknown access key');
    }
    const expected = computeSignature(account.secretKey, { ...fields, server_id, code: request.code, oneway }, request.body);
    if (!signaturesEqual(expected, parsed.signature)) {
      throw this.denied(unknown_or_unsigned, { remote: remote_ip, account: fields.access_key, code: request.code, log_reason: 'signature does not match' });
    }
    const now_ms = this.clock.nowMs();
    if (Math.abs(now_ms - fields.timestamp_ms) > this.options.window_ms) {
      throw this.denied(`the request was signed at ${new Date(fields.timestamp_ms).toISOString()}, more than ${this.options.window_ms} ms from this node's clock (a replay, or clocks apart: sync them)`, { remote: remote_ip, account: fields.access_key });
    }
    if (!acl.addressAllowed(fields.access_key, remote_ip)) throw this.denied(`account "${fields.access_key}" may not connect from ${remote_ip}`, { remote: remote_ip, account: fields.access_key });
    // Keyed by account too: one account cannot spoil another's session numbers.
    const verdict = this.replays.check(`${fields.access_key}/${fields.session}`, fields.seq, now_ms);
    if (verdict === 'replayed') throw this.denied(`request ${fields.seq} of session ${fields.session} was seen before (a replay)`, { remote: remote_ip, account: fields.access_key });
    if (verdict === 'full') throw new MqError('BUSY', 'this node tracks as many signing sessions as it can; retry shortly', { retriable: true });
    return account;
  }

  /** Throws ACCESS_DENIED unless `account` may do what `need` says. */
  authorize(account: Account, need: Need, code: number): void {
    if (this.options.acl().permits(account, need)) return;
    const what = need.kind === 'admin' ? `admin request ${requestCodeName(code) ?? code}` : need.kind === 'group' ? `group ${need.group}` : `${need.perm} on topic ${need.topic}`;
    throw this.denied(`account "${account.accessKey}" may not ${need.kind === 'admin' ? 'send' : 'use'} ${what}`, {
      account: account.accessKey,
      code: requestCodeName(code) ?? code,
      resource: need.kind === 'admin' ? 'admin' : need.kind === 'group' ? `group:${need.group}` : `topic:${need.topic}:${need.perm}`,
    });
  }

  /** The refusal to answer, logged at most once a second per `throttle_key` (by default the
   *  account and the start of the reason). */
  private denied(reason: string, fields: Record<string, unknown>, throttle_key = `${String(fields['account'] ?? '')}|${reason.slice(0, 40)}`): MqError {
    if (this.log_throttle.allow(throttle_key)) this.options.log.warn({ ...fields, reason }, 'access denied');
    return new MqError('ACCESS_DENIED', reason);
  }
}
