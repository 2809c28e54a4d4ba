/**
 * The options every SDK object takes (contract.md, "Client SDK"), their defaults and limits,
 * and the checks that turn a user's mistake into an MqError before anything touches the
 * network. Producer-only and admin-only options live here too, so one file lists them all.
 */
import { checkName } from '../protocol/index.js';
import { system_clock, type Clock } from '../runtime/clock.js';
import { MqError } from '../runtime/errors.js';
import type { TlsDialOptions } from '../tls/tls_dial.js';
import { checkCredentials, type Credentials } from './remoting/request_signer.js';

export const client_limits = {
  /** The contract's default: the whole budget of one send, retries included. */
  send_timeout_ms_default: 3_000,
  send_timeout_ms_max: 600_000,
  /** The contract's default: a failed send is tried on another broker group twice more. */
  retries_default: 2,
  retries_max: 16,
  /** Routes are polled this often even when nothing fails (RocketMQ polls every 30 s too). */
  route_refresh_interval_ms: 30_000,
  /** A request to a nameserver or an admin request to a broker. */
  request_timeout_ms_default: 3_000,
  /** Nameservers one client may be given. */
  namesrv_addresses_max: 32,
} as const;

/** The `instanceName` of SDK objects that do not name one: they share one connection pool. */
export const instance_name_default = 'DEFAULT';

/** What every SDK object takes. */
export interface ClientOptions {
  /** `host:port`, several separated by `,` or `;`, or an array of them. */
  namesrv: string | readonly string[];
  /**
   * SDK objects with the same instance name share connections (one per address) and a
   * client id. Give distinct names to run several members of one consumer group in one
   * process: the broker tells members apart by client id.
   */
  instanceName?: string;
  /** Wall clock and monotonic time; tests inject a manual clock. */
  clock?: Clock;
  /** Uniform [0, 1): jitter and tie-breaking; tests inject a seeded one. */
  random?: () => number;
  /**
   * TLS to nameservers and brokers (nodes started with --tls-cert): `true` trusts the
   * system's CAs; an object names the CA and, for nodes that require client certificates
   * (--tls-ca), this client's certificate and key. Every connection then verifies the
   * server's certificate. SDK objects with the same instanceName share connections, so
   * they must be given the same tls.
   */
  tls?: boolean | ClientTlsOptions;
  /**
   * The account requests are signed with, for nodes that run access control (--acl-file):
   * both or neither. SDK objects with the same instanceName share connections, so they must
   * be given the same account.
   */
  accessKey?: string;
  secretKey?: string;
}

/** The `tls` option of every SDK object. PEM text (a string or a Buffer of a file's bytes). */
export interface ClientTlsOptions {
  /** CA certificate(s) that signed the nodes' certificates (default: the system's CAs). */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** This client's certificate and its private key, for nodes with --tls-ca (both or neither). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name the nodes' certificates must carry (default: the host of each address dialled). */
  servername?: string;
  /** false skips verifying the nodes' certificates: encrypted, but to anyone (default true). */
  rejectUnauthorized?: boolean;
}

export interface ProducerOptions extends ClientOptions {
  /** Producer group (RocketMQ's), sent with every message; needed for transactions later. */
  group?: string;
  /** Budget of one send, retries included (default 3000). */
  sendTimeoutMs?: number;
  /** Further attempts on another broker group after a failure (default 2). */
  retries?: number;
}

export type AdminOptions = ClientOptions & {
  /** Timeout of each request the admin makes (default 3000). */
  requestTimeoutMs?: number;
};

/** ClientOptions checked and with defaults filled in. */
export interface ResolvedClientOptions {
  namesrv_addresses: string[];
  instance_name: string;
  clock: Clock;
  random: () => number;
  /** undefined: plain TCP. */
  tls: TlsDialOptions | undefined;
  /** undefined: requests are not signed. */
  credentials: Credentials | undefined;
}

export interface ResolvedProducerOptions extends ResolvedClientOptions {
  group: string | null;
  send_timeout_ms: number;
  retries: number;
}

export function resolveClientOptions(options: ClientOptions, what: string): ResolvedClientOptions {
  if (typeof options !== 'object' || options === null) {
    throw new MqError('BAD_REQUEST', `${what} needs options, e.g. new ${what}({ namesrv: '127.0.0.1:9876' })`);
  }
  const instance_name = options.instanceName ?? instance_name_default;
  if (typeof instance_name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(instance_name)) {
    throw new MqError('BAD_REQUEST', `instanceName ${JSON.stringify(instance_name)} is invalid: use 1 to 64 of A-Z a-z 0-9 _ . -`);
  }
  return {
    namesrv_addresses: parseNamesrvAddresses(options.namesrv),
    instance_name,
    clock: options.clock ?? system_clock,
    random: options.random ?? Math.random,
    tls: resolveTls(options.tls),
    credentials: resolveCredentials(options),
  };
}

/** `accessKey` and `secretKey` checked; undefined for neither. */
export function resolveCredentials(options: Pick<ClientOptions, 'accessKey' | 'secretKey'>): Credentials | undefined {
  if (options.accessKey === undefined && options.secretKey === undefined) return undefined;
  if (options.accessKey === undefined || options.secretKey === undefined) throw new MqError('BAD_REQUEST', 'accessKey and secretKey go together: give both (an account of the nodes\' ACL) or neither');
  const credentials = { accessKey: options.accessKey, secretKey: options.secretKey };
  checkCredentials(credentials);
  return credentials;
}

const pem_types = 'a string or a Buffer of PEM text';

/** The `tls` option checked; undefined for none. */
export function resolveTls(tls: ClientOptions['tls']): TlsDialOptions | undefined {
  if (tls === undefined || tls === false) return undefined;
  if (tls === true) return {};
  if (typeof tls !== 'object' || tls === null) throw new MqError('BAD_REQUEST', `tls must be true, false or an object such as { ca }, not ${String(tls)}`);
  const isPem = (value: unknown): value is string | Buffer => typeof value === 'string' || Buffer.isBuffer(value);
  const ca = tls.ca;
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.every(isPem))) throw new MqError('BAD_REQUEST', `tls.ca must be ${pem_types}, or an array of them`);
  if (tls.cert !== undefined && !isPem(tls.cert)) throw new MqError('BAD_REQUEST', `tls.cert must be ${pem_types}`);
  if (tls.key !== undefined && !isPem(tls.key)) throw new MqError('BAD_REQUEST', `tls.key must be ${pem_types}`);
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new MqError('BAD_REQUEST', 'tls.cert and tls.key go together: give both (a client certificate and its key) or neither');
  if (tls.servername !== undefined && (typeof tls.servername !== 'string' || tls.servername === '')) throw new MqError('BAD_REQUEST', 'tls.servername must be a host name');
  if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== 'boolean') throw new MqError('BAD_REQUEST', 'tls.rejectUnauthorized must be true or false');
  // allowPartialTrustChain is not in ClientTlsOptions: a node's own clients (the inspector's
  // Admin) pass it to trust the node's certificate (tls/node_tls.ts).
  const partial = (tls as TlsDialOptions).allowPartialTrustChain === true;
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
    ...(partial ? { allowPartialTrustChain: true } : {}),
  };
}

export function resolveProducerOptions(options: ProducerOptions): ResolvedProducerOptions {
  const base = resolveClientOptions(options, 'Producer');
  if (options.group !== undefined) {
    const bad = checkName('group', options.group);
    if (bad !== undefined) throw new MqError('BAD_REQUEST', bad.message);
  }
  return {
    ...base,
    group: options.group ?? null,
    send_timeout_ms: integerOption('sendTimeoutMs', options.sendTimeoutMs, client_limits.send_timeout_ms_default, 1, client_limits.send_timeout_ms_max),
    retries: integerOption('retries', options.retries, client_limits.retries_default, 0, client_limits.retries_max),
  };
}

export function resolveAdminTimeout(options: AdminOptions): number {
  return integerOption('requestTimeoutMs', options.requestTimeoutMs, client_limits.request_timeout_ms_default, 1, client_limits.send_timeout_ms_max);
}

/** `'h:p'`, `'h:p,h:p'`, `'h:p;h:p'` or an array: the list, each checked to be host:port. */
export function parseNamesrvAddresses(namesrv: string | readonly string[] | undefined): string[] {
  if (namesrv === undefined || namesrv === null) {
    throw new MqError('BAD_REQUEST', "namesrv is missing: pass the nameserver's address, e.g. { namesrv: '127.0.0.1:9876' }");
  }
  const parts = (typeof namesrv === 'string' ? namesrv.split(/[,;]/) : [...namesrv]).map((part) => String(part).trim()).filter((part) => part !== '');
  if (parts.length === 0) throw new MqError('BAD_REQUEST', "namesrv is empty: pass at least one 'host:port'");
  if (parts.length > client_limits.namesrv_addresses_max) {
    throw new MqError('BAD_REQUEST', `namesrv lists ${parts.length} addresses, more than ${client_limits.namesrv_addresses_max}`);
  }
  for (const part of parts) checkHostPort(part, 'namesrv');
  return [...new Set(parts)];
}

export function checkHostPort(address: string, what: string): void {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new MqError('BAD_REQUEST', `${what} address ${JSON.stringify(address)} is not host:port with a port 1..65535`);
  }
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MqError('BAD_REQUEST', `${name} must be an integer ${min}..${max}, not ${String(value)}`);
  }
  return value;
}
