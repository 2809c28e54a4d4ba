import { ConfigError, describeSource, envName, quoteValue, type ConfigSource } from './config_error.js';
import {
  flags,
  rolesOf,
  specFor,
  type BrokerReplication,
  type FlagSpec,
  type FlushMode,
  type LogLevel,
  type NamesrvReplication,
  type Role,
} from './config_flags.js';
import { readArgv, readConfigFile, readEnv, type ArgValue, type FileValue } from './config_sources.js';
import { checkTlsPaths } from './config_tls.js';
import { checkAclSettings } from './config_acl.js';
import { client_limit_defaults, type ClientLimits } from './remoting/client_limits.js';
import { InvalidValue, formatHostPort, isWildcardHost, type HostPort } from './config_values.js';

/**
 * The effective configuration of one node, from (highest first) command-line flags,
 * `MQ_<FLAG>` environment variables, a `--config FILE.json`, and the defaults of the role.
 *
 * Environment variables of flags that do not apply to the role are ignored (a shell may
 * export MQ_NAMESRV for the admin commands and still start a nameserver); a flag or a
 * config-file key that does not apply to the role is an error.
 */

export { ConfigError } from './config_error.js';
export type { Role, LogLevel, FlushMode, NamesrvReplication, BrokerReplication } from './config_flags.js';
export type { HostPort } from './config_values.js';
export { formatHostPort } from './config_values.js';

interface CommonConfig {
  /** Listen address of every listener of the node. */
  host: string;
  /** The address other nodes and clients are told to dial; printed in the ready line. */
  advertiseHost: string;
  /** Listen address of the admin HTTP server (inspector, metrics, restarts). */
  adminHost: string;
  threads: number;
  logLevel: LogLevel;
  /** Client port: route queries on a nameserver, produce/consume on a broker. */
  port: number;
  adminPort: number;
  /** Connections each client port (namesrv, broker) keeps open from one source address. */
  connectionsPerAddressMax: number;
  /** What one client may hold at once (remoting/client_limits.ts): the node's defaults. */
  connectionsPerAccountMax: number;
  requestsPerClientMax: number;
  heldPullsPerClientMax: number;
  /** --tls-cert, --tls-key, --tls-ca: absolute paths, or null without TLS (config_tls.ts). */
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
  /** --acl-file: absolute path, or null with access control off (config_acl.ts). */
  aclFile: string | null;
  aclWindowMs: number;
  /** The account the node signs its own requests with, or null (then it signs none). */
  accessKey: string | null;
  secretKey: string | null;
}

/** The nameserver's settings (role namesrv, and the embedded one of standalone). */
export interface NamesrvSettings {
  /** A broker silent this long is evicted. */
  brokerExpiryMs: number;
  /** Plugins of the nameserver's event bus, in load order (server/namesrv/plugin_loader.ts). */
  plugins: string[];
  /** Absolute path of the audit-log plugin's file. */
  auditLog: string;
}

export interface NamesrvConfig extends CommonConfig, NamesrvSettings {
  role: 'namesrv';
  peers: HostPort[];
  replication: NamesrvReplication;
  /** Absolute path of the registry journal (used with peers). */
  data: string;
  electionTimeoutMs: number;
  semiSyncAcks: number;
  semiSyncTimeoutMs: number;
}

export interface BrokerSettings {
  haPort: number;
  /** The RocketMQ 5 gRPC endpoint's port (server/grpc/). */
  grpcPort: number;
  /** Absolute path, or several comma-separated (dataDirs): the first holds everything, the
   *  others take their share of the CommitLog segments. */
  data: string;
  commitLogSegmentBytes: number;
  cluster: string;
  brokerName: string;
  brokerId: number;
  flush: FlushMode;
  replication: BrokerReplication;
  /** Sync replication: slaves that must hold a send, and how long to wait for them. */
  replicationAcks: number;
  replicationTimeoutMs: number;
  autoCreateTopic: boolean;
  /** Percent of the data disk in use above which appends are refused (reads go on). */
  diskHighWater: number;
  /** How often the broker heartbeats to each nameserver. */
  heartbeatIntervalMs: number;
  /** Longest delay of a delayed send. */
  maxDelayMs: number;
  /** Redelivery delay of a failed message by attempt (ms); the last one repeats. */
  retryDelays: number[];
  /** The timing wheel's tick and slots per level. */
  wheelTickMs: number;
  wheelLevels: number[];
  /** Transactions: check-back interval and how many checks before a rollback. */
  transactionCheckIntervalMs: number;
  transactionCheckMax: number;
}

export interface BrokerConfig extends CommonConfig, BrokerSettings {
  role: 'broker';
  namesrv: HostPort[];
}

/** One nameserver and one broker in one process. */
export interface StandaloneConfig extends CommonConfig, BrokerSettings, NamesrvSettings {
  role: 'standalone';
  namesrvPort: number;
}

export type NodeConfig = NamesrvConfig | BrokerConfig | StandaloneConfig;

/** What the command line asks for. */
export type ConfigRequest =
  | { action: 'run'; config: NodeConfig }
  | { action: 'print-config'; config: NodeConfig }
  | { action: 'help'; role: Role | null };

/** Reads the settings; throws ConfigError (one line, naming the flag) when they are wrong. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ConfigRequest {
  const args = readArgv(argv);
  if (args.get('help') === true) {
    const role = args.get('role');
    return { action: 'help', role: role === 'namesrv' || role === 'broker' || role === 'standalone' ? role : null };
  }
  const config_arg = stringArg(args, 'config');
  const config_path = config_arg ?? readEnv(env, 'config');
  const file = config_path === undefined ? new Map<string, FileValue>() : readConfigFile(config_path, config_arg === undefined ? 'env' : 'flag');
  const sources = new Sources(args, env, file, config_path ?? '');
  const role = sources.given(flags.role);
  if (role === undefined) {
    throw new ConfigError(`--role is required: ${flags.role.type.allowed} (or set ${envName('role')}, or "role" in the --config file)`, 'role');
  }
  for (const flag of args.keys()) {
    if (specFor(role, flag) === undefined) throw notForRole(flag, role, `--${flag}`, 'flag');
  }
  for (const [flag, value] of file) {
    if (specFor(role, flag) === undefined) throw notForRole(flag, role, `key "${value.key}" in config file ${config_path ?? ''}`, 'file');
  }
  const config = buildConfig(role, sources);
  return { action: args.get('print-config') === true ? 'print-config' : 'run', config };
}

function stringArg(args: Map<string, ArgValue>, flag: string): string | undefined {
  const value = args.get(flag);
  return typeof value === 'string' ? value : undefined;
}

function notForRole(flag: string, role: Role, written: string, source: ConfigSource): ConfigError {
  const owners = rolesOf(flag).map((r) => `--role ${r}`).join(', ');
  return new ConfigError(`${written} does not apply to --role ${role} (it is a flag of ${owners})`, flag, source);
}

/** Looks a flag up in the sources in precedence order and parses what it finds. */
class Sources {
  constructor(
    private readonly args: Map<string, ArgValue>,
    private readonly env: NodeJS.ProcessEnv,
    private readonly file: Map<string, FileValue>,
    private readonly file_path: string,
  ) {}

  given<T>(spec: FlagSpec<T>): T | undefined {
    const found = this.find(spec);
    if (found === undefined) return undefined;
    try {
      return spec.type.parse(found.raw);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      const where = describeSource(spec.flag, found.source, found.key, this.file_path);
      const detail = error.reason === null ? '' : ` (${error.reason})`;
      // A secret is never echoed (logs and terminals keep what they are shown).
      const shown = spec.flag === flags.secretKey.flag ? 'the value given' : quoteValue(found.raw);
      throw new ConfigError(`${where}: ${shown} is not valid${detail}; expected ${spec.type.allowed}`, spec.flag, found.source);
    }
  }

  /** The given value, else the role's default, else a ConfigError saying the flag is required. */
  get<T>(spec: FlagSpec<T>, role: Role): T {
    const value = this.given(spec);
    if (value !== undefined) return value;
    const fallback = spec.defaults[role];
    if (fallback === undefined) {
      throw new ConfigError(
        `--${spec.flag} is required for --role ${role}: ${spec.type.allowed}; set it with --${spec.flag}, ${envName(spec.flag)} or "${spec.flag}" in the --config file`,
        spec.flag,
      );
    }
    return spec.type.parse(fallback);
  }

  private find(spec: FlagSpec<unknown>): { raw: string; source: ConfigSource; key: string } | undefined {
    const arg = this.args.get(spec.flag);
    if (typeof arg === 'string' && spec.sources.includes('flag')) return { raw: arg, source: 'flag', key: spec.flag };
    const env = spec.sources.includes('env') ? readEnv(this.env, spec.flag) : undefined;
    if (env !== undefined) return { raw: env, source: 'env', key: spec.flag };
    const file = spec.sources.includes('file') ? this.file.get(spec.flag) : undefined;
    if (file !== undefined) return { raw: file.raw, source: 'file', key: file.key };
    return undefined;
  }
}

function buildConfig(role: Role, sources: Sources): NodeConfig {
  const host = sources.get(flags.host, role);
  const common: CommonConfig = {
    host,
    // A wildcard listen address cannot be dialled; loopback is the safe default for one machine.
    advertiseHost: sources.given(flags.advertiseHost) ?? (isWildcardHost(host) ? '127.0.0.1' : host),
    adminHost: sources.given(flags.adminHost) ?? host,
    threads: sources.get(flags.threads, role),
    logLevel: sources.get(flags.logLevel, role),
    port: sources.get(flags.port, role),
    adminPort: sources.get(flags.adminPort, role),
    connectionsPerAddressMax: sources.get(flags.connectionsPerAddressMax, role),
    connectionsPerAccountMax: sources.get(flags.connectionsPerAccountMax, role),
    requestsPerClientMax: sources.get(flags.requestsPerClientMax, role),
    heldPullsPerClientMax: sources.get(flags.heldPullsPerClientMax, role),
    tlsCert: sources.given(flags.tlsCert) ?? null,
    tlsKey: sources.given(flags.tlsKey) ?? null,
    tlsCa: sources.given(flags.tlsCa) ?? null,
    aclFile: sources.given(flags.aclFile) ?? null,
    aclWindowMs: sources.get(flags.aclWindowMs, role),
    accessKey: sources.given(flags.accessKey) ?? null,
    secretKey: sources.given(flags.secretKey) ?? null,
  };
  checkTlsPaths(common);
  checkAclSettings(common);
  const namesrv = (): NamesrvSettings => ({
    brokerExpiryMs: sources.get(flags.brokerExpiryMs, role),
    plugins: sources.get(flags.plugins, role),
    auditLog: sources.get(flags.auditLog, role),
  });
  if (role === 'namesrv') {
    const peers = sources.get(flags.peers, role);
    // Peers know a nameserver by the address they list: one that picks a port at random
    // could not be listed, and one that lists itself would vote twice.
    if (peers.length > 0 && common.port === 0) {
      throw new ConfigError('--peers needs a fixed --port: the other nameservers list this one by its host:port', 'port');
    }
    if (peers.some((peer) => peer.port === common.port && peer.host === common.advertiseHost)) {
      throw new ConfigError(`--peers lists this nameserver itself (${formatHostPort({ host: common.advertiseHost, port: common.port })}); list only the others`, 'peers');
    }
    return {
      role,
      ...common,
      ...namesrv(),
      peers,
      replication: sources.get(flags.namesrvReplication, role),
      data: sources.get(flags.data, role),
      electionTimeoutMs: sources.get(flags.electionTimeoutMs, role),
      semiSyncAcks: sources.get(flags.semiSyncAcks, role),
      semiSyncTimeoutMs: sources.get(flags.semiSyncTimeoutMs, role),
    };
  }
  const broker: BrokerSettings = {
    haPort: sources.get(flags.haPort, role),
    grpcPort: sources.get(flags.grpcPort, role),
    data: sources.get(flags.data, role),
    commitLogSegmentBytes: sources.get(flags.commitLogSegmentBytes, role),
    cluster: sources.get(flags.cluster, role),
    brokerName: sources.get(flags.brokerName, role),
    brokerId: sources.get(flags.brokerId, role),
    flush: sources.get(flags.flush, role),
    replication: sources.get(flags.brokerReplication, role),
    replicationAcks: sources.get(flags.replicationAcks, role),
    replicationTimeoutMs: sources.get(flags.replicationTimeoutMs, role),
    autoCreateTopic: sources.get(flags.autoCreateTopic, role),
    diskHighWater: sources.get(flags.diskHighWater, role),
    heartbeatIntervalMs: sources.get(flags.heartbeatIntervalMs, role),
    maxDelayMs: sources.get(flags.maxDelayMs, role),
    retryDelays: sources.get(flags.retryDelays, role),
    wheelTickMs: sources.get(flags.wheelTickMs, role),
    wheelLevels: sources.get(flags.wheelLevels, role),
    transactionCheckIntervalMs: sources.get(flags.transactionCheckIntervalMs, role),
    transactionCheckMax: sources.get(flags.transactionCheckMax, role),
  };
  if (role === 'broker') return { role, ...common, namesrv: sources.get(flags.namesrv, role), ...broker };
  return { role, ...common, namesrvPort: sources.get(flags.namesrvPort, role), ...namesrv(), ...broker };
}

/**
 * The configuration as a JSON object with kebab-case keys: exactly what `--print-config`
 * prints, and a valid `--config` file for the same role.
 */
export function configToJson(config: NodeConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    const flag = key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
    // The secret is not printed: give it again (MQ_SECRET_KEY) when using this as a file.
    if (flag === flags.secretKey.flag && value !== null) {
      json[flag] = '(hidden)';
      continue;
    }
    if (Array.isArray(value) && value.every((entry) => typeof entry === 'number')) json[flag] = value.join(',');
    else json[flag] = Array.isArray(value) ? (value as Array<HostPort | string>).map((entry) => (typeof entry === 'string' ? entry : formatHostPort(entry))) : value;
  }
  return json;
}

/** The broker's data directories: the first holds everything, the others CommitLog segments. */
export function dataDirs(config: { data: string }): string[] {
  return config.data.split(',');
}

/** The node's default limits per client (remoting/client_limits.ts), from its flags. */
export function clientLimitsOf(config: NodeConfig): ClientLimits {
  return {
    connections_max: config.connectionsPerAccountMax,
    requests_in_flight_max: config.requestsPerClientMax,
    held_pulls_max: config.heldPullsPerClientMax,
    request_bytes_max: client_limit_defaults.request_bytes_max,
  };
}
