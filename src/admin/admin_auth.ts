import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { system_clock, type Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/log.js';
import { LogThrottle } from '../runtime/log_throttle.js';
import type { Acl } from '../server/auth/acl.js';

export const admin_auth_limits = {
  /** A refusal with the same reason (and account) is logged at most this often. */
  refusal_log_interval_ms: 1_000,
  /** Reasons remembered for that; beyond, the table starts over (reasons name accounts and
   *  addresses, so a flood from many addresses must not grow it without end). */
  refusal_log_keys_max: 10_000,
} as const;

/** Characters of a refused access key that a log line shows (the header may hold kilobytes). */
const account_shown_chars_max = 100;

/**
 * `WWW-Authenticate` of a 401: a browser prompts for the access key and secret key, then
 * sends them with every request of the page to this origin (its fetch and EventSource calls
 * included), so the inspector works unchanged behind it.
 */
export const admin_auth_challenge = 'Basic realm="mq-node", charset="UTF-8"';

/** What an admin HTTP request may do: go on, or the status and the reason it is refused. */
export type AdminAuthVerdict =
  | { ok: true; access_key: string }
  | { ok: false; status: 401 | 403; reason: string };

export interface AdminAuthOptions {
  /** The ACL in force, read at every request: a reload of the file applies to the next one. */
  acl: () => Acl;
  log?: Logger;
  clock?: Clock;
}

/**
 * Access control of the admin HTTP port (ACL on): HTTP Basic authentication with an admin
 * account of the node's ACL — the access key as user, the secret key as password — from an
 * address the account allows. Unknown keys and wrong secrets answer the same 401 (a prober
 * learns nothing about which keys exist); a known account that may not use the port answers
 * 403, which a browser does not turn into a new prompt.
 *
 * Basic authentication sends the secret itself, unlike the framed protocol's signatures:
 * the admin port should run TLS (--tls-cert) when the ACL is on (admin_server.ts warns).
 *
 * Owned by the node's main thread (the admin server's request handler); nothing else calls it.
 */
export class AdminAuth {
  private readonly log_throttle: LogThrottle;
  /** Secrets are compared as HMACs under this process-local key: equal-length digests that
   *  timingSafeEqual can compare whatever the lengths of the secrets. */
  private readonly compare_key = randomBytes(32);

  constructor(private readonly options: AdminAuthOptions) {
    this.log_throttle = new LogThrottle({ interval_ms: admin_auth_limits.refusal_log_interval_ms, keys_max: admin_auth_limits.refusal_log_keys_max, clock: options.clock ?? system_clock });
  }

  check(request: IncomingMessage): AdminAuthVerdict {
    const remote = request.socket.remoteAddress ?? '';
    const given = basicCredentials(request.headers.authorization);
    if (given === undefined) {
      const reason = request.headers.authorization === undefined ? 'no credentials' : 'credentials that are not HTTP Basic';
      this.logRefusal(reason, { remote });
      return unauthorized('this admin port requires an admin account of the node\'s ACL: send HTTP Basic authentication with the access key as user and the secret key as password');
    }
    const acl = this.options.acl();
    const account = acl.account(given.access_key);
    // Compared even without an account, against itself, so both answers take the same time.
    const secret_matches = this.secretsEqual(account?.secretKey ?? given.secret_key, given.secret_key);
    if (account === undefined || !secret_matches) {
      // An unknown key is not part of the reason: made-up keys must not each get a log line.
      const reason = account === undefined ? 'unknown access key' : `wrong secret key for account "${account.accessKey}"`;
      this.logRefusal(reason, { remote, account: given.access_key.slice(0, account_shown_chars_max) });
      return unauthorized('unknown access key or wrong secret key: give an admin account of the node\'s ACL (user = access key, password = secret key)');
    }
    if (!acl.addressAllowed(account.accessKey, remote)) {
      const reason = `account "${account.accessKey}" may not connect from ${remote}`;
      this.logRefusal(reason, { remote, account: account.accessKey });
      return { ok: false, status: 403, reason: `${reason}: add the address to its allowAddresses, or use another account` };
    }
    if (!acl.permits(account, { kind: 'admin' })) {
      const reason = `account "${account.accessKey}" is not an admin account`;
      this.logRefusal(reason, { remote, account: account.accessKey });
      return { ok: false, status: 403, reason: `${reason}: the admin HTTP port serves admin accounts only (set "admin": true in the ACL, or use an admin account)` };
    }
    return { ok: true, access_key: account.accessKey };
  }

  private secretsEqual(expected: string, given: string): boolean {
    const digest = (text: string): Buffer => createHmac('sha256', this.compare_key).update(text, 'utf8').digest();
    return timingSafeEqual(digest(expected), digest(given));
  }

  /** Logs a refusal unless the same one was logged within the interval (a scraper or a
   *  prober with bad credentials must not flood the log). */
  private logRefusal(reason: string, fields: { remote: string; account?: string }): void {
    if (!this.log_throttle.allow(reason)) return;
    this.options.log?.warn({ ...fields, reason, listener: 'admin' }, 'admin HTTP access denied');
  }
}

function unauthorized(reason: string): AdminAuthVerdict {
  return { ok: false, status: 401, reason };
}

/**
 * The user and password of an `Authorization: Basic` header (RFC 7617), or undefined when
 * there is none or it is malformed. The user is everything before the first colon (a user
 * id may not hold one; a password may). Node bounds the header's size (maxHeaderSize).
 */
export function basicCredentials(header: string | undefined): { access_key: string; secret_key: string } | undefined {
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { access_key: decoded.slice(0, colon), secret_key: decoded.slice(colon + 1) };
}

/** The `Authorization` header value for an account (the CLI's and the tests' side). */
export function basicAuthorization(access_key: string, secret_key: string): string {
  return `Basic ${Buffer.from(`${access_key}:${secret_key}`, 'utf8').toString('base64')}`;
}
