import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { ConfigError, configToJson, loadConfig, type NodeConfig } from '../../src/server/config.js';
import { usageText } from '../../src/server/config_usage.js';
import { server_connection_limits } from '../../src/server/remoting/remoting_limits.js';

const dir = mkdtempSync(join(tmpdir(), 'mq-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

let file_counter = 0;
function configFile(content: unknown): string {
  const path = join(dir, `config-${file_counter++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function run(argv: string[], env: NodeJS.ProcessEnv = {}): NodeConfig {
  const request = loadConfig(argv, env);
  if (request.action === 'help') throw new Error('expected a config, got help');
  return request.config;
}

function configError(argv: string[], env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(argv)}`);
}

t.test('defaults per role match the contract', async (t) => {
  const namesrv = run(['--role', 'namesrv']);
  t.match(namesrv, { role: 'namesrv', port: 9876, adminPort: 9877, peers: [], replication: 'async', host: '0.0.0.0', advertiseHost: '127.0.0.1', logLevel: 'info' });
  t.ok(namesrv.threads >= 1, 'threads default to the available CPUs');
  t.match(namesrv, { brokerExpiryMs: 120_000, auditLog: resolve('./namesrv_audit.jsonl') });
  t.same(namesrv.role === 'namesrv' ? namesrv.plugins : null, ['route-notifications'], 'route notifications are on by default');

  const broker = run(['--role', 'broker', '--namesrv', '10.0.0.1:9876,[::1]:9877']);
  t.match(broker, {
    role: 'broker', port: 10911, haPort: 10912, grpcPort: 8081, adminPort: 10913, cluster: 'DefaultCluster', brokerName: 'broker-a',
    brokerId: 0, flush: 'async', replication: 'async', autoCreateTopic: false, diskHighWater: 90, heartbeatIntervalMs: 30000, data: resolve('./data'),
  });
  t.same(broker.role === 'broker' ? broker.namesrv : null, [{ host: '10.0.0.1', port: 9876 }, { host: '::1', port: 9877 }]);

  const standalone = run(['--role', 'standalone']);
  t.match(standalone, { brokerExpiryMs: 120_000 });
  t.same(standalone.role === 'standalone' ? standalone.plugins : null, ['route-notifications']);
  t.match(standalone, { role: 'standalone', namesrvPort: 9876, port: 10911, haPort: 10912, grpcPort: 8081, adminPort: 10913, autoCreateTopic: true, data: resolve('./data') });
});

t.test('advertise-host follows a specific listen host and replaces a wildcard', async (t) => {
  t.equal(run(['--role', 'namesrv', '--host', '10.1.2.3']).advertiseHost, '10.1.2.3');
  t.equal(run(['--role', 'namesrv', '--host', '::']).advertiseHost, '127.0.0.1');
  t.equal(run(['--role', 'namesrv', '--advertise-host', 'mq.example.com']).advertiseHost, 'mq.example.com');
});

t.test('precedence: flag > env > file > default', async (t) => {
  const file = configFile({ port: 1111, 'admin-port': 2221, brokerName: 'from-file', role: 'standalone' });
  const env = { MQ_PORT: '1112', MQ_ADMIN_PORT: '2222' };
  const all = run(['--config', file, '--port', '1113'], env);
  t.equal(all.port, 1113, 'the flag wins over env and file');
  t.equal(all.adminPort, 2222, 'env wins over the file');
  t.equal(all.role === 'standalone' ? all.brokerName : null, 'from-file', 'the file wins over the default (camelCase key)');
  t.equal(all.role, 'standalone', 'role may come from the file');
  t.equal(all.role === 'standalone' ? all.haPort : null, 10912, 'default when no source has it');
  t.equal(run(['--role', 'namesrv'], { MQ_ROLE: 'broker', MQ_NAMESRV: 'h:1' }).role, 'namesrv', 'role flag beats MQ_ROLE');
  t.equal(run([], { MQ_CONFIG: file }).port, 1111, 'MQ_CONFIG names the file');
  t.equal(run(['--role', 'namesrv'], { MQ_PORT: '' }).port, 9876, 'an empty variable counts as unset');
});

t.test('config file values: numbers, booleans, arrays, null, kebab and camel keys', async (t) => {
  const file = configFile({ role: 'broker', namesrv: ['a:1', 'b:2'], 'auto-create-topic': true, brokerId: 3, flush: 'sync', cluster: null });
  const config = run(['--config', file]);
  t.match(config, { role: 'broker', autoCreateTopic: true, brokerId: 3, flush: 'sync', cluster: 'DefaultCluster' });
  t.same(config.role === 'broker' ? config.namesrv : null, [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
});

t.test('env of a flag of another role is ignored; a flag of another role is an error', async (t) => {
  t.equal(run(['--role', 'namesrv'], { MQ_NAMESRV: 'not a host list', MQ_HA_PORT: 'x' }).port, 9876);
  const error = configError(['--role', 'namesrv', '--ha-port', '1']);
  t.equal(error.flag, 'ha-port');
  t.match(error.message, /^--ha-port does not apply to --role namesrv \(it is a flag of --role broker, --role standalone\)$/);
  const from_file = configError(['--role', 'namesrv', '--config', configFile({ flush: 'sync' })]);
  t.match(from_file.message, /key "flush" in config file .* does not apply to --role namesrv/);
});

t.test('--admin-host: the admin server listens there; by default where every listener does', async (t) => {
  t.match(run(['--role', 'broker', '--namesrv', '127.0.0.1:9876']), { host: '0.0.0.0', adminHost: '0.0.0.0' });
  t.match(run(['--role', 'broker', '--namesrv', '127.0.0.1:9876', '--admin-host', '127.0.0.1']), { host: '0.0.0.0', adminHost: '127.0.0.1' });
});

t.test('a nameserver with --peers: a fixed port, not listed among its own peers; the cluster flags', async (t) => {
  const random_port = configError(['--role', 'namesrv', '--port', '0', '--peers', '127.0.0.1:9001']);
  t.equal(random_port.flag, 'port');
  t.match(random_port.message, /^--peers needs a fixed --port/);
  const itself = configError(['--role', 'namesrv', '--host', '127.0.0.1', '--port', '9000', '--peers', '127.0.0.1:9001,127.0.0.1:9000']);
  t.equal(itself.flag, 'peers');
  t.match(itself.message, /^--peers lists this nameserver itself \(127\.0\.0\.1:9000\)/);
  const config = run(['--role', 'namesrv', '--port', '9000', '--peers', '127.0.0.1:9001,127.0.0.1:9002', '--replication', 'semi-sync', '--semi-sync-acks', '2', '--data', '/tmp/ns']);
  t.match(config, { replication: 'semi-sync', semiSyncAcks: 2, semiSyncTimeoutMs: 1_000, electionTimeoutMs: 1_500, data: '/tmp/ns' });
  t.same(config.role === 'namesrv' ? config.peers : null, [{ host: '127.0.0.1', port: 9001 }, { host: '127.0.0.1', port: 9002 }]);
});

t.test('errors name the flag, the source, the value and what is allowed, on one line', async (t) => {
  const cases: Array<{ argv: string[]; env?: NodeJS.ProcessEnv; flag: string | null; source: string | null; message: RegExp }> = [
    { argv: ['--role', 'namesrv', '--prot', '1'], flag: 'prot', source: 'flag', message: /--prot is not a flag of mq-node \(did you mean --port\?\)/ },
    { argv: ['--role', 'namesrv', '--port', '70000'], flag: 'port', source: 'flag', message: /^--port: "70000" is not valid; expected an integer 0\.\.65535/ },
    { argv: ['--role', 'namesrv', '--port', '1.5'], flag: 'port', source: 'flag', message: /"1\.5" is not valid/ },
    { argv: ['--role', 'namesrv'], env: { MQ_PORT: 'abc' }, flag: 'port', source: 'env', message: /^--port \(from environment variable MQ_PORT\): "abc" is not valid/ },
    { argv: ['--role', 'namesrv', '--replication', 'quorum'], flag: 'replication', source: 'flag', message: /expected one of sync\|async\|semi-sync\|chain/ },
    { argv: ['--role', 'broker', '--namesrv', 'h:1', '--replication', 'chain'], flag: 'replication', source: 'flag', message: /expected one of async\|sync$/ },
    { argv: ['--role', 'standalone', '--auto-create-topic', 'yes'], flag: 'auto-create-topic', source: 'flag', message: /"yes" is not valid; expected true\|false/ },
    { argv: ['--role', 'broker', '--namesrv', 'h:1', '--broker-id', '-1'], flag: 'broker-id', source: 'flag', message: /expected an integer 0\.\.1023/ },
    { argv: ['--role', 'broker', '--namesrv', 'h'], flag: 'namesrv', source: 'flag', message: /"h" is not host:port/ },
    { argv: ['--role', 'broker', '--namesrv', 'h:1,'], flag: 'namesrv', source: 'flag', message: /an empty entry/ },
    { argv: ['--role', 'namesrv', '--host', 'bad host!'], flag: 'host', source: 'flag', message: /expected an IPv4 or IPv6 address or a DNS name/ },
    { argv: ['--role', 'namesrv', '--threads', '0'], flag: 'threads', source: 'flag', message: /expected an integer 1\.\.256/ },
    { argv: ['--role', 'namesrv', '--log-level', 'loud'], flag: 'log-level', source: 'flag', message: /expected one of trace\|debug/ },
    { argv: ['--role', 'broker'], flag: 'namesrv', source: null, message: /^--namesrv is required for --role broker/ },
    { argv: [], flag: 'role', source: null, message: /^--role is required/ },
    { argv: ['--role', 'queue'], flag: 'role', source: 'flag', message: /"queue" is not valid; expected one of namesrv\|broker\|standalone/ },
    { argv: ['--role', 'namesrv', '--port'], flag: 'port', source: 'flag', message: /--port needs a value/ },
    { argv: ['--role', 'namesrv', '--port', '--host', 'x'], flag: 'port', source: 'flag', message: /--port needs a value/ },
    { argv: ['--role', 'namesrv', '--port', '1', '--port', '2'], flag: 'port', source: 'flag', message: /--port is given twice/ },
    { argv: ['--role', 'namesrv', '--print-config=yes'], flag: 'print-config', source: 'flag', message: /--print-config takes no value/ },
    { argv: ['--role', 'namesrv', 'extra'], flag: null, source: 'flag', message: /unexpected argument "extra"/ },
    { argv: ['--role', 'namesrv', '--broker-expiry-ms', '10'], flag: 'broker-expiry-ms', source: 'flag', message: /expected an integer 50\.\.3600000/ },
    { argv: ['--role', 'namesrv', '--plugins', 'audit-log,,x'], flag: 'plugins', source: 'flag', message: /an empty entry/ },
    { argv: ['--role', 'namesrv', '--plugins', 'audit-log,audit-log'], flag: 'plugins', source: 'flag', message: /"audit-log" is named twice/ },
    { argv: ['--role', 'broker', '--namesrv', 'h:1', '--plugins', 'audit-log'], flag: 'plugins', source: 'flag', message: /does not apply to --role broker/ },
    { argv: ['--role', 'namesrv', '--port', 'x\ny'], flag: 'port', source: 'flag', message: /"x\\ny" is not valid/ },
  ];
  for (const c of cases) {
    const error = configError(c.argv, c.env);
    t.equal(error.flag, c.flag, `flag of ${JSON.stringify(c.argv)}`);
    t.equal(error.source, c.source, `source of ${JSON.stringify(c.argv)}`);
    t.match(error.message, c.message);
    t.notMatch(error.message, /\n/, 'one line');
  }
});

t.test('config file errors', async (t) => {
  const missing = configError(['--config', join(dir, 'absent.json')]);
  t.equal(missing.flag, 'config');
  t.match(missing.message, /^--config .*absent\.json: cannot read the file \(ENOENT/);
  t.match(configError([], { MQ_CONFIG: join(dir, 'absent.json') }).message, /from environment variable MQ_CONFIG.*cannot read/);
  t.match(configError(['--config', configFile('{"port": 1,')]).message, /: not valid JSON \(/);
  t.match(configError(['--config', configFile('[1]')]).message, /expected a JSON object of settings/);
  t.match(configError(['--config', configFile({ prot: 1 })]).message, /unknown key "prot"/);
  t.match(configError(['--config', configFile({ config: 'x' })]).message, /key "config" cannot be set in a config file/);
  t.match(configError(['--config', configFile({ 'broker-name': 'a', brokerName: 'b' })]).message, /keys "broker-name" and "brokerName" both set --broker-name/);
  t.match(configError(['--config', configFile({ port: { n: 1 } })]).message, /key "port" \(--port\) has a object/);
  const bad_value = configError(['--role', 'namesrv', '--config', configFile({ port: 'abc' })]);
  t.equal(bad_value.source, 'file');
  t.match(bad_value.message, /^--port \(from key "port" in config file .*\): "abc" is not valid; expected an integer 0\.\.65535/);
});

t.test('print-config output is a config file for the same node', async (t) => {
  const request = loadConfig(['--role', 'broker', '--namesrv', 'a:1,[::1]:2', '--port', '0', '--print-config'], {});
  t.equal(request.action, 'print-config');
  if (request.action === 'help') return;
  const json = configToJson(request.config);
  t.same(json['namesrv'], ['a:1', '[::1]:2']);
  t.equal(json['ha-port'], 10912);
  t.notOk('haPort' in json, 'keys are kebab-case');
  t.same(run(['--config', configFile(json)]), request.config, 'reading it back gives the same config');
});

t.test('nameserver plugins come as a list from a flag or a config-file array, and print back as one', async (t) => {
  const from_flag = run(['--role', 'namesrv', '--plugins', 'route-notifications, audit-log,./my_plugin.js', '--audit-log', 'logs/audit.jsonl']);
  t.same(from_flag.role === 'namesrv' ? from_flag.plugins : null, ['route-notifications', 'audit-log', './my_plugin.js']);
  t.equal(from_flag.role === 'namesrv' ? from_flag.auditLog : null, resolve('logs/audit.jsonl'));
  const from_file = run(['--config', configFile({ role: 'standalone', plugins: ['audit-log', 'route-notifications'], 'broker-expiry-ms': 500 })]);
  t.same(from_file.role === 'standalone' ? [from_file.plugins, from_file.brokerExpiryMs] : null, [['audit-log', 'route-notifications'], 500]);
  const none = run(['--role', 'namesrv', '--plugins', '']);
  t.same(none.role === 'namesrv' ? none.plugins : null, [], 'an empty list turns every plugin off');
  const printed = configToJson(from_flag);
  t.same(printed['plugins'], ['route-notifications', 'audit-log', './my_plugin.js']);
  t.same(run(['--config', configFile(printed)]), from_flag, 'reading it back gives the same config');
});

t.test('help lists each role with its defaults', async (t) => {
  t.same(loadConfig(['--help', '--role', 'broker'], {}), { action: 'help', role: 'broker' });
  t.same(loadConfig(['-h'], {}), { action: 'help', role: null });
  const text = usageText(null);
  t.match(text, /--role standalone:/);
  t.match(text, /--namesrv-port N +port of the embedded nameserver \(default: 9876\), MQ_NAMESRV_PORT/);
  t.match(text, /--namesrv h:p\[,h:p\] +nameservers to register with \(required\), MQ_NAMESRV/);
  t.notMatch(usageText('namesrv'), /--ha-port N/, 'a role shows only its flags');
  t.match(usageText('standalone'), /--grpc-port N +RocketMQ 5 gRPC port: .*\(default: 8081\), MQ_GRPC_PORT/);
  t.notMatch(usageText('namesrv'), /--grpc-port/, 'a nameserver has no gRPC endpoint');
});

t.test('delay and retry flags: durations with units, integer lists, bounds', async (t) => {
  const defaults = run(['--role', 'standalone']);
  t.match(defaults, { maxDelayMs: 40 * 24 * 3_600_000, wheelTickMs: 100, transactionCheckIntervalMs: 60_000, transactionCheckMax: 15 });
  t.match(configError(['--role', 'standalone', '--transaction-check-max', '0']).message, /--transaction-check-max/);
  t.same(defaults.role === 'standalone' ? defaults.retryDelays : null, [10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000, 480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000]);
  t.same(defaults.role === 'standalone' ? defaults.wheelLevels : null, [10, 60, 60, 24, 64]);
  const given = run(['--role', 'standalone', '--retry-delays', '250ms, 1s,2m,1h,1d,500', '--wheel-levels', '4,3,2', '--wheel-tick-ms', '20']);
  t.same(given.role === 'standalone' ? [given.retryDelays, given.wheelLevels, given.wheelTickMs] : null, [[250, 1_000, 120_000, 3_600_000, 86_400_000, 500], [4, 3, 2], 20]);
  t.match(configError(['--role', 'standalone', '--retry-delays', '10x']).message, /--retry-delays.*"10x"/);
  t.match(configError(['--role', 'standalone', '--retry-delays', '']).message, /--retry-delays/);
  t.match(configError(['--role', 'standalone', '--wheel-levels', '10,1']).message, /--wheel-levels.*"1"/);
  t.match(configError(['--role', 'standalone', '--max-delay-ms', '-5']).message, /--max-delay-ms/);
  // --print-config writes the lists back in a form the flags read.
  const json = configToJson(given);
  t.equal(json['retry-delays'], '250,1000,120000,3600000,86400000,500');
  t.equal(json['wheel-levels'], '4,3,2');
});

t.test('--connections-per-address-max: every role, a default, bounds', async (t) => {
  for (const role of ['namesrv', 'broker', 'standalone']) {
    const extra = role === 'broker' ? ['--namesrv', '127.0.0.1:9876'] : [];
    t.equal(run(['--role', role, ...extra]).connectionsPerAddressMax, server_connection_limits.connections_per_address_max, `${role}: the default`);
  }
  t.equal(run(['--role', 'standalone', '--connections-per-address-max', '20']).connectionsPerAddressMax, 20, 'from the flag');
  t.equal(run(['--role', 'namesrv'], { MQ_CONNECTIONS_PER_ADDRESS_MAX: '64' }).connectionsPerAddressMax, 64, 'from the environment');
  t.match(configError(['--role', 'standalone', '--connections-per-address-max', '0']).message, /--connections-per-address-max.*"0" is not valid; expected an integer 1\.\.10000/);
  t.match(configError(['--role', 'broker', '--namesrv', 'a:1', '--connections-per-address-max', String(server_connection_limits.connections_max + 1)]).message, /--connections-per-address-max/);
});
