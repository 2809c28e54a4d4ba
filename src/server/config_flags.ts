import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { registry_limits } from '../actors/registry/registry_limits.js';
import { keyProblem, signature_limits } from '../protocol/index.js';
import { server_connection_limits } from './remoting/remoting_limits.js';
import { client_limit_defaults } from './remoting/client_limits.js';
import { account_limits_max } from './auth/acl.js';
import type { ConfigSource } from './config_error.js';
import {
  alignedIntegerType,
  booleanType,
  durationListType,
  enumType,
  integerListType,
  hostPortListType,
  hostType,
  integerType,
  nameType,
  portType,
  switchType,
  InvalidValue,
  pathListType,
  type ValueType,
} from './config_values.js';

/**
 * The flags of `mq-node --role ...` (contract.md, "Command line"), one entry per flag and
 * role family. A flag belongs to the roles that list it; naming it for another role is an
 * error, so a typo in a deployment script fails at start instead of being ignored.
 *
 * Defaults are written as the user would write them and go through the same parser as a
 * given value, so a default is validated like everything else and `./data` is made absolute
 * against the working directory at start.
 */

export const roles = ['namesrv', 'broker', 'standalone'] as const;
export type Role = (typeof roles)[number];

/** pino's levels; `silent` turns logging off. */
export const log_levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof log_levels)[number];

export const namesrv_replication_modes = ['sync', 'async', 'semi-sync', 'chain'] as const;
export type NamesrvReplication = (typeof namesrv_replication_modes)[number];
export const broker_replication_modes = ['async', 'sync'] as const;
export type BrokerReplication = (typeof broker_replication_modes)[number];
export const flush_modes = ['async', 'sync'] as const;
export type FlushMode = (typeof flush_modes)[number];

export const config_flag_limits = {
  /** Worker threads per node; more than this on one host only adds context switches. */
  threads_max: 256,
  /** Broker ids within one broker group (0 is the master). */
  broker_id_max: 1_023,
} as const;

export const delivery_flag_limits = {
  max_delay_ms_default: 40 * 24 * 3_600_000,
  /** A year: the store keeps every scheduled message's CommitLog segment until it is delivered. */
  max_delay_ms_max: 365 * 24 * 3_600_000,
  retry_levels_max: 64,
  retry_delays_default: '10s,30s,1m,2m,3m,4m,5m,6m,7m,8m,9m,10m,20m,30m,1h,2h',
} as const;

const all_sources: readonly ConfigSource[] = ['flag', 'env', 'file'];

export interface FlagSpec<T> {
  /** The flag without dashes, kebab-case: `ha-port`. */
  readonly flag: string;
  readonly type: ValueType<T>;
  readonly roles: readonly Role[];
  /** Per role, the default as text; a role that lists the flag but has no default requires it. */
  readonly defaults: Partial<Record<Role, string>>;
  readonly sources: readonly ConfigSource[];
  /** Shown in --help: `--port N`, `--namesrv h:p[,h:p]`. */
  readonly placeholder: string;
  readonly help: string;
  /** Neither required nor defaulted: the loader derives a value or does without (`--config`). */
  readonly optional?: boolean;
}

function spec<T>(fields: Omit<FlagSpec<T>, 'sources'> & { sources?: readonly ConfigSource[] }): FlagSpec<T> {
  return { sources: all_sources, ...fields };
}

const every_role = roles;
const broker_roles: readonly Role[] = ['broker', 'standalone'];
const namesrv_roles: readonly Role[] = ['namesrv', 'standalone'];

/** The same default for every role. */
function everyRole(value: number): Record<Role, string> {
  return { namesrv: String(value), broker: String(value), standalone: String(value) };
}

/** Nameserver plugins named at once (--plugins); each is a module loaded at start. */
export const plugins_max = 32;
const file_path_chars_max = 4_096;

/** --plugins: comma-separated plugin names, module paths or packages (server/namesrv/plugin_loader.ts). */
const pluginListType: ValueType<string[]> = {
  allowed: `a comma-separated list of 0..${plugins_max} plugins: route-notifications, audit-log, a module path or a package name`,
  parse(raw) {
    const trimmed = raw.trim();
    const entries = trimmed === '' ? [] : trimmed.split(',').map((entry) => entry.trim());
    if (entries.length > plugins_max) throw new InvalidValue(`${entries.length} entries`);
    if (entries.some((entry) => entry === '')) throw new InvalidValue('an empty entry');
    const repeated = entries.find((entry, index) => entries.indexOf(entry) !== index);
    if (repeated !== undefined) throw new InvalidValue(`"${repeated}" is named twice`);
    return entries;
  },
};

/** A file path, made absolute against the working directory (like pathType for directories). */
const filePathType: ValueType<string> = {
  allowed: `a file path (1..${file_path_chars_max} characters)`,
  parse(raw) {
    if (raw.length === 0 || raw.length > file_path_chars_max || raw.includes('\0')) throw new InvalidValue();
    return resolvePath(raw);
  },
};
/** An access or secret key (protocol/request_signature.ts). */
function keyType(what: 'access key' | 'secret key'): ValueType<string> {
  return {
    allowed: `${signature_limits.key_chars_min} to ${signature_limits.key_chars_max} printable ASCII characters without spaces`,
    parse(raw) {
      if (keyProblem(what, raw) !== undefined) throw new InvalidValue();
      return raw;
    },
  };
}
const default_threads = String(Math.min(availableParallelism(), config_flag_limits.threads_max));

export const flags = {
  role: spec({
    flag: 'role', type: enumType(roles), roles: every_role, defaults: {},
    placeholder: 'namesrv|broker|standalone', help: 'what this node runs',
  }),
  config: spec({
    flag: 'config', type: { allowed: 'a file path', parse: (raw: string) => raw }, roles: every_role, defaults: {}, optional: true,
    sources: ['flag', 'env'], placeholder: 'FILE.json',
    help: 'read settings from a JSON object whose keys are flag names (kebab-case or camelCase)',
  }),
  printConfig: spec({
    flag: 'print-config', type: switchType, roles: every_role, defaults: { namesrv: 'false', broker: 'false', standalone: 'false' },
    sources: ['flag'], placeholder: '', help: 'print the effective settings as JSON and exit',
  }),
  help: spec({
    flag: 'help', type: switchType, roles: every_role, defaults: { namesrv: 'false', broker: 'false', standalone: 'false' },
    sources: ['flag'], placeholder: '', help: 'print this help and exit',
  }),
  host: spec({
    flag: 'host', type: hostType, roles: every_role,
    defaults: { namesrv: '0.0.0.0', broker: '0.0.0.0', standalone: '0.0.0.0' },
    placeholder: 'ADDR', help: 'listen address of every listener',
  }),
  adminHost: spec({
    flag: 'admin-host', type: hostType, roles: every_role, defaults: {}, optional: true,
    placeholder: 'ADDR', help: 'listen address of the admin HTTP server (default: --host); 127.0.0.1 keeps it to this machine',
  }),
  advertiseHost: spec({
    flag: 'advertise-host', type: hostType, roles: every_role, defaults: {}, optional: true,
    placeholder: 'ADDR', help: 'address printed and registered (default: --host, or 127.0.0.1 when --host is a wildcard)',
  }),
  threads: spec({
    flag: 'threads', type: integerType(1, config_flag_limits.threads_max), roles: every_role,
    defaults: { namesrv: default_threads, broker: default_threads, standalone: default_threads },
    placeholder: 'N', help: 'worker threads of the actor system, by default one per available CPU',
  }),
  logLevel: spec({
    flag: 'log-level', type: enumType(log_levels), roles: every_role,
    defaults: { namesrv: 'info', broker: 'info', standalone: 'info' },
    placeholder: 'LEVEL', help: `least severe log level written to stderr: ${log_levels.join('|')}`,
  }),
  port: spec({
    flag: 'port', type: portType, roles: every_role,
    defaults: { namesrv: '9876', broker: '10911', standalone: '10911' },
    placeholder: 'N', help: 'client port (namesrv: route queries; broker: produce/consume)',
  }),
  adminPort: spec({
    flag: 'admin-port', type: portType, roles: every_role,
    defaults: { namesrv: '9877', broker: '10913', standalone: '10913' },
    placeholder: 'N', help: 'admin HTTP port: /healthz, /metrics, /api/actors',
  }),
  connectionsPerAddressMax: spec({
    flag: 'connections-per-address-max', type: integerType(1, server_connection_limits.connections_max), roles: every_role,
    defaults: everyRole(server_connection_limits.connections_per_address_max),
    placeholder: 'N', help: 'connections one client/broker port keeps open from one source address; more are closed at once (clients behind one NAT address share it)',
  }),
  connectionsPerAccountMax: spec({
    flag: 'connections-per-account-max', type: integerType(1, account_limits_max.connections), roles: every_role,
    defaults: everyRole(client_limit_defaults.connections_max),
    placeholder: 'N', help: 'with --acl-file: connections one account keeps open on a client/broker port; an ACL account\'s limits.connections overrides it',
  }),
  requestsPerClientMax: spec({
    flag: 'requests-per-client-max', type: integerType(1, account_limits_max.requestsInFlight), roles: every_role,
    defaults: everyRole(client_limit_defaults.requests_in_flight_max),
    placeholder: 'N', help: 'requests one client (an account; a source address without --acl-file) has in flight on a port, over its connections; more are answered BUSY',
  }),
  heldPullsPerClientMax: spec({
    flag: 'held-pulls-per-client-max', type: integerType(1, account_limits_max.heldPulls), roles: every_role,
    defaults: everyRole(client_limit_defaults.held_pulls_max),
    placeholder: 'N', help: 'long-polling pulls the broker holds for one client (an account; a source address without --acl-file); more are answered empty at once',
  }),
  tlsCert: spec({
    flag: 'tls-cert', type: filePathType, roles: every_role, defaults: {}, optional: true,
    placeholder: 'FILE', help: 'PEM certificate: every listener (client, HA, nameserver, admin HTTP) runs TLS, and the node dials its peers over TLS; needs --tls-key',
  }),
  tlsKey: spec({
    flag: 'tls-key', type: filePathType, roles: every_role, defaults: {}, optional: true,
    placeholder: 'FILE', help: 'PEM private key of --tls-cert',
  }),
  tlsCa: spec({
    flag: 'tls-ca', type: filePathType, roles: every_role, defaults: {}, optional: true,
    placeholder: 'FILE', help: 'PEM CA certificate(s): listeners require client certificates it signed (mutual TLS), and the node trusts servers it signed (without it: the system CAs and its own certificate)',
  }),
  aclFile: spec({
    flag: 'acl-file', type: filePathType, roles: every_role, defaults: {}, optional: true,
    placeholder: 'FILE', help: 'access control: every request must be signed by an account of this JSON file and is checked against its permissions; reloaded when it changes (off without it)',
  }),
  aclWindowMs: spec({
    flag: 'acl-window-ms', type: integerType(1_000, 3_600_000), roles: every_role,
    defaults: { namesrv: '60000', broker: '60000', standalone: '60000' },
    placeholder: 'MS', help: 'a signed request this far from the node\'s clock is refused (clocks of clients and nodes must agree within it)',
  }),
  accessKey: spec({
    flag: 'access-key', type: keyType('access key'), roles: every_role, defaults: {}, optional: true,
    placeholder: 'KEY', help: 'the account this node signs its own requests with (to nameservers, masters, peers): an admin account of their ACLs; needs --secret-key',
  }),
  secretKey: spec({
    flag: 'secret-key', type: keyType('secret key'), roles: every_role, defaults: {}, optional: true,
    placeholder: 'KEY', help: 'the secret of --access-key (prefer MQ_SECRET_KEY or the config file: a flag shows in the process list)',
  }),
  peers: spec({
    flag: 'peers', type: hostPortListType(0), roles: ['namesrv'], defaults: { namesrv: '' },
    placeholder: 'h:p[,h:p]', help: 'the other nameservers that share the registry',
  }),
  brokerExpiryMs: spec({
    flag: 'broker-expiry-ms', type: integerType(registry_limits.broker_expiry_ms_min, registry_limits.broker_expiry_ms_max), roles: namesrv_roles,
    defaults: { namesrv: String(registry_limits.broker_expiry_ms_default), standalone: String(registry_limits.broker_expiry_ms_default) },
    placeholder: 'MS', help: 'a broker neither registering nor heartbeating for this long is evicted and its routes withdrawn',
  }),
  plugins: spec({
    flag: 'plugins', type: pluginListType, roles: namesrv_roles,
    defaults: { namesrv: 'route-notifications', standalone: 'route-notifications' },
    placeholder: 'NAME[,NAME]', help: 'nameserver plugins that get every registry event: route-notifications, audit-log, module paths or packages',
  }),
  auditLog: spec({
    flag: 'audit-log', type: filePathType, roles: namesrv_roles,
    defaults: { namesrv: './namesrv_audit.jsonl', standalone: './namesrv_audit.jsonl' },
    placeholder: 'FILE', help: 'where the audit-log plugin appends registry events as JSON lines',
  }),
  namesrvReplication: spec({
    flag: 'replication', type: enumType(namesrv_replication_modes), roles: ['namesrv'], defaults: { namesrv: 'async' },
    placeholder: namesrv_replication_modes.join('|'), help: 'how the registry is replicated to --peers',
  }),
  electionTimeoutMs: spec({
    flag: 'election-timeout-ms', type: integerType(100, 60_000), roles: ['namesrv'], defaults: { namesrv: '1500' },
    placeholder: 'MS', help: 'with --peers: a follower that hears no leader for this long (plus up to as much again, at random) stands for election',
  }),
  semiSyncAcks: spec({
    flag: 'semi-sync-acks', type: integerType(1, 15), roles: ['namesrv'], defaults: { namesrv: '1' },
    placeholder: 'N', help: '--replication semi-sync: how many followers must apply a registry write before it is acknowledged',
  }),
  semiSyncTimeoutMs: spec({
    flag: 'semi-sync-timeout-ms', type: integerType(10, 600_000), roles: ['namesrv'], defaults: { namesrv: '1000' },
    placeholder: 'MS', help: '--replication semi-sync: after this long without enough followers a write is acknowledged anyway (async, reported)',
  }),
  namesrv: spec({
    flag: 'namesrv', type: hostPortListType(1), roles: ['broker'], defaults: {},
    placeholder: 'h:p[,h:p]', help: 'nameservers to register with',
  }),
  namesrvPort: spec({
    flag: 'namesrv-port', type: portType, roles: ['standalone'], defaults: { standalone: '9876' },
    placeholder: 'N', help: 'port of the embedded nameserver',
  }),
  haPort: spec({
    flag: 'ha-port', type: portType, roles: broker_roles, defaults: { broker: '10912', standalone: '10912' },
    placeholder: 'N', help: 'port on which a master streams its CommitLog to slaves',
  }),
  grpcPort: spec({
    flag: 'grpc-port', type: portType, roles: broker_roles, defaults: { broker: '8081', standalone: '8081' },
    placeholder: 'N', help: 'RocketMQ 5 gRPC port: the official Apache RocketMQ clients (5.x, gRPC) produce and consume here (docs/rocketmq-compat.md)',
  }),
  data: spec({
    flag: 'data', type: pathListType, roles: [...broker_roles, 'namesrv'], defaults: { broker: './data', standalone: './data', namesrv: './data/namesrv' },
    placeholder: 'DIR[,DIR...]',
    help: 'broker: directory of the CommitLog, ConsumeQueues and checkpoints (more directories spread the CommitLog segments over them); namesrv with --peers: its registry journal',
  }),
  commitLogSegmentBytes: spec({
    flag: 'commit-log-segment-bytes', type: alignedIntegerType(1 << 20, 1 << 30, 4_096), roles: broker_roles,
    defaults: { broker: String(1 << 30), standalone: String(1 << 30) }, placeholder: 'BYTES',
    help: 'size of a CommitLog segment file (a multiple of 4096; master and slaves alike; fixed for a data directory)',
  }),
  cluster: spec({
    flag: 'cluster', type: nameType, roles: broker_roles, defaults: { broker: 'DefaultCluster', standalone: 'DefaultCluster' },
    placeholder: 'NAME', help: 'cluster this broker group belongs to',
  }),
  brokerName: spec({
    flag: 'broker-name', type: nameType, roles: broker_roles, defaults: { broker: 'broker-a', standalone: 'broker-a' },
    placeholder: 'NAME', help: 'broker group name (master and slaves share it)',
  }),
  brokerId: spec({
    flag: 'broker-id', type: integerType(0, config_flag_limits.broker_id_max), roles: broker_roles,
    defaults: { broker: '0', standalone: '0' }, placeholder: 'N', help: '0 for the master, >0 for a slave',
  }),
  flush: spec({
    flag: 'flush', type: enumType(flush_modes), roles: broker_roles, defaults: { broker: 'async', standalone: 'async' },
    placeholder: flush_modes.join('|'), help: 'sync: a send is acknowledged after its bytes are on disk',
  }),
  brokerReplication: spec({
    flag: 'replication', type: enumType(broker_replication_modes), roles: broker_roles,
    defaults: { broker: 'async', standalone: 'async' },
    placeholder: broker_replication_modes.join('|'), help: 'sync: a send on a master waits for a slave',
  }),
  replicationAcks: spec({
    flag: 'replication-acks', type: integerType(1, 15), roles: broker_roles, defaults: { broker: '1', standalone: '1' },
    placeholder: 'N', help: 'sync replication: how many slaves must hold a send before it is acknowledged',
  }),
  replicationTimeoutMs: spec({
    flag: 'replication-timeout-ms', type: integerType(100, 600_000), roles: broker_roles, defaults: { broker: '3000', standalone: '3000' },
    placeholder: 'MS', help: 'sync replication: a send no slave acknowledged within this answers FLUSH_SLAVE_TIMEOUT',
  }),
  autoCreateTopic: spec({
    flag: 'auto-create-topic', type: booleanType, roles: broker_roles, defaults: { broker: 'false', standalone: 'true' },
    placeholder: 'true|false', help: 'create a topic on its first send',
  }),
  heartbeatIntervalMs: spec({
    flag: 'heartbeat-interval-ms', type: integerType(100, 600_000), roles: broker_roles, defaults: { broker: '30000', standalone: '30000' },
    placeholder: 'MS', help: 'how often the broker heartbeats to each nameserver (keep well below their --broker-expiry-ms)',
  }),
  diskHighWater: spec({
    flag: 'disk-high-water', type: integerType(50, 99), roles: broker_roles, defaults: { broker: '90', standalone: '90' },
    placeholder: 'PERCENT', help: 'appends are refused while the data disk is fuller than this; reads go on',
  }),
  maxDelayMs: spec({
    flag: 'max-delay-ms', type: integerType(1_000, delivery_flag_limits.max_delay_ms_max), roles: broker_roles,
    defaults: { broker: String(delivery_flag_limits.max_delay_ms_default), standalone: String(delivery_flag_limits.max_delay_ms_default) },
    placeholder: 'MS', help: 'longest delay a delayed send may ask for (default 40 days); longer ones get BAD_REQUEST',
  }),
  retryDelays: spec({
    flag: 'retry-delays', type: durationListType(1, delivery_flag_limits.retry_levels_max, 1, delivery_flag_limits.max_delay_ms_max), roles: broker_roles,
    defaults: { broker: delivery_flag_limits.retry_delays_default, standalone: delivery_flag_limits.retry_delays_default },
    placeholder: '10s,30s,1m,...', help: "delay before a failed message's redelivery, by attempt; the last one repeats",
  }),
  wheelTickMs: spec({
    flag: 'wheel-tick-ms', type: integerType(10, 1_000), roles: broker_roles, defaults: { broker: '100', standalone: '100' },
    placeholder: 'MS', help: "the timing wheel's tick: delayed messages are delivered at most about this late",
  }),
  wheelLevels: spec({
    flag: 'wheel-levels', type: integerListType(1, 8, 2, 4_096), roles: broker_roles, defaults: { broker: '10,60,60,24,64', standalone: '10,60,60,24,64' },
    placeholder: 'N,N,...', help: "slots per level of the timing wheel, lowest first (level spans: tick × slots below); longer delays wait in an overflow level",
  }),
  transactionCheckIntervalMs: spec({
    flag: 'transaction-check-interval-ms', type: integerType(100, 86_400_000), roles: broker_roles, defaults: { broker: '60000', standalone: '60000' },
    placeholder: 'MS', help: 'a transaction half message undecided this long is checked back with its producer group, and again after as long',
  }),
  transactionCheckMax: spec({
    flag: 'transaction-check-max', type: integerType(1, 1_000), roles: broker_roles, defaults: { broker: '15', standalone: '15' },
    placeholder: 'N', help: 'check-backs of an undecided half message before it is rolled back',
  }),
} as const;

export const all_flag_specs: readonly FlagSpec<unknown>[] = Object.values(flags);

/** The spec of `flag` for `role`, or undefined when the flag does not apply to that role. */
export function specFor(role: Role, flag: string): FlagSpec<unknown> | undefined {
  return all_flag_specs.find((s) => s.flag === flag && s.roles.includes(role));
}

export function isKnownFlag(flag: string): boolean {
  return all_flag_specs.some((s) => s.flag === flag);
}

export function rolesOf(flag: string): Role[] {
  return roles.filter((role) => specFor(role, flag) !== undefined);
}

export function isSwitch(flag: string): boolean {
  return all_flag_specs.some((s) => s.flag === flag && s.type.is_switch === true);
}
