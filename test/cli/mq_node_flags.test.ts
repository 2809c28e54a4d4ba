import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from './node_process.js';

/** `mq-node` as users run it: bad flags exit 2 with one line on stderr; --print-config shows precedence. */

const dir = mkdtempSync(join(tmpdir(), 'mq-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const usage_exit_code = 2;

t.test('bad flags and config exit 2 with one stderr line naming the flag', async (t) => {
  const bad_json = join(dir, 'bad.json');
  writeFileSync(bad_json, '{"port": ');
  const cases: Array<{ name: string; args: string[]; env?: NodeJS.ProcessEnv; line: RegExp }> = [
    { name: 'unknown flag', args: ['--role', 'broker', '--namesrv', 'h:1', '--bogus', '1'], line: /^mq-node: --bogus is not a flag of mq-node; see mq-node --help$/ },
    { name: 'bad value', args: ['--role', 'namesrv', '--port', '99999'], line: /^mq-node: --port: "99999" is not valid; expected an integer 0\.\.65535 \(0 picks a free port\)$/ },
    { name: 'flag of another role', args: ['--role', 'namesrv', '--flush', 'sync'], line: /^mq-node: --flush does not apply to --role namesrv \(it is a flag of --role broker, --role standalone\)$/ },
    { name: 'missing --namesrv for broker', args: ['--role', 'broker'], line: /^mq-node: --namesrv is required for --role broker: .*MQ_NAMESRV/ },
    { name: 'bad config file', args: ['--role', 'namesrv', '--config', bad_json], line: /^mq-node: --config .*bad\.json: not valid JSON \(/ },
    { name: 'missing config file', args: ['--role', 'namesrv', '--config', join(dir, 'none.json')], line: /^mq-node: --config .*none\.json: cannot read the file \(ENOENT/ },
    { name: 'bad env value', args: ['--role', 'standalone'], env: { MQ_FLUSH: 'sometimes' }, line: /^mq-node: --flush \(from environment variable MQ_FLUSH\): "sometimes" is not valid; expected one of async\|sync$/ },
    { name: 'unknown command', args: ['frobnicate'], line: /^mq-node: unknown command "frobnicate"/ },
  ];
  // The commands only read their flags, so they run side by side to keep the test short.
  const results = await Promise.all(cases.map((c) => runCli(t, c.args, c.env)));
  for (const [index, c] of cases.entries()) {
    const result = results[index];
    if (result === undefined) throw new Error(`no result for ${c.name}`);
    t.equal(result.code, usage_exit_code, `${c.name}: exit code`);
    t.equal(result.stdout, '', `${c.name}: nothing on stdout`);
    const lines = result.stderr.split('\n');
    t.equal(lines.length, 2, `${c.name}: one line on stderr (then the final newline)`);
    t.match(lines[0], c.line, c.name);
  }
});

t.test('--print-config shows precedence flag > env > file > default', async (t) => {
  const file = join(dir, 'broker.json');
  writeFileSync(file, JSON.stringify({ role: 'broker', namesrv: ['10.0.0.1:9876'], port: 1001, haPort: 2001, 'admin-port': 3001, cluster: 'FileCluster' }));
  const env = { MQ_PORT: '1002', MQ_HA_PORT: '2002' };
  const result = await runCli(t, ['--config', file, '--port', '1003', '--print-config'], env, dir);
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr, '');
  const printed = JSON.parse(result.stdout) as Record<string, unknown>;
  t.match(printed, {
    role: 'broker',
    port: 1003, // flag
    'ha-port': 2002, // env over file
    'admin-port': 3001, // file
    cluster: 'FileCluster', // file over default
    'broker-name': 'broker-a', // default
    namesrv: ['10.0.0.1:9876'],
    data: join(dir, 'data'), // ./data against the working directory
    'auto-create-topic': false,
    'advertise-host': '127.0.0.1',
  });
});

t.test('--help prints the flags and exits 0', async (t) => {
  const result = await runCli(t, ['--help']);
  t.equal(result.code, 0);
  t.match(result.stdout, /^usage: mq-node --role namesrv\|broker\|standalone/);
  t.match(result.stdout, /--auto-create-topic true\|false/);
  t.match(result.stdout, /--grpc-port N +RocketMQ 5 gRPC port/, 'the gRPC endpoint\'s port');
});
