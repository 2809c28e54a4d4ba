import { readFileSync } from 'node:fs';
/**
 * `mq-node admin <verb> ...`: the Admin SDK on the command line. Output is a readable table
 * by default and JSON (one document) with `--json`. Exit codes: 0 done, 1 the cluster said
 * no or could not be reached (one line on stderr: the error code and what to do), 2 bad
 * command or flags.
 */
import { parseArgs } from 'node:util';
import { perm_read, perm_write } from '../protocol/index.js';
import { isMqErrorCode, MqError } from '../runtime/errors.js';
import { system_properties } from '../protocol/index.js';
import { Admin } from './admin.js';
import type { DeadLetterResend } from './admin_dead_letters.js';
import { formatFields, formatTable } from './admin_table.js';
import type { ClusterView, GroupLag, NamesrvStatusView, RouteView } from './admin_views.js';
import type { ReceivedMessage } from './message.js';
import type { AclAccount, AclNodeOutcome } from './admin_acl.js';
import { cli_tls_options, cli_tls_usage, cliTls } from './cli_tls.js';

const usage_exit_code = 2;
const failure_exit_code = 1;
/** Where `--namesrv` and MQ_NAMESRV are both missing: the standalone default. */
const namesrv_default = '127.0.0.1:9876';
/** Characters of a message body `message get` shows; `--json` shows it all. */
const body_preview_chars_max = 200;
/** Characters of each body `dlq list` shows in its table. */
const dead_letter_body_preview_chars_max = 40;

export const admin_usage = `usage: mq-node admin <verb> [--namesrv h:p[,h:p]] [--json]
  topic create <topic> [--queues N] [--cluster NAME]   create on every master broker, wait for the route
  topic list [--cluster NAME]                          topics the nameserver routes
  topic route <topic>                                  broker groups and queues of a topic
  group lag <group> [--topic T]                        per queue: broker offset, consumer offset, lag
  cluster                                              broker groups, roles, addresses, heartbeats
  namesrv status                                       each nameserver: role, term, leader, log end, chain
  message get <msgId>                                  one message by its id
  message query --topic T --key K [--max N]            the topic's messages with business key K, newest first
  acl list                                             every node's ACL accounts (no secrets)
  acl set <ACCOUNT.json>                               add or replace an account on every node
  acl delete <accessKey>                               remove an account from every node
  dlq list --group G [--max N]                         the group's dead letters, oldest first (default 100)
  dlq resend --group G (--msg-id ID | --all [--max N]) send dead letters back to their first topic
--namesrv defaults to $MQ_NAMESRV, then ${namesrv_default}; --timeout-ms N bounds each request.
${cli_tls_usage}
access control (nodes run with --acl-file): --access-key K, and the secret in $MQ_SECRET_KEY (or --secret-key S)
dlq: MSG ID is the id the producer got (ORIGIN_MESSAGE_ID); --msg-id takes it or the dead
letter's own id. A resent dead letter stays in %DLQ%<group>: resending it again sends it again.
`;

export interface AdminCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Wall clock for "last heartbeat ... ago". */
  nowMs: () => number;
}

const default_io: AdminCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  nowMs: () => Date.now(),
};

class UsageError extends Error {}

/** Runs `mq-node admin` with `argv` (the words after `admin`); resolves with the exit code. */
export async function runAdminCommand(argv: readonly string[], io: AdminCommandIo = default_io): Promise<number> {
  let parsed: ReturnType<typeof parseCommand>;
  try {
    parsed = parseCommand(argv);
  } catch (error) {
    io.stderr(`mq-node admin: ${error instanceof Error ? error.message : String(error)}\n${admin_usage}`);
    return usage_exit_code;
  }
  if (parsed.help) {
    io.stdout(admin_usage);
    return 0;
  }
  let admin: Admin;
  try {
    const timeout = parsed.flags['timeout-ms'];
    const tls = cliTls(parsed.flags);
    admin = new Admin({
      namesrv: parsed.flags.namesrv ?? io.env['MQ_NAMESRV'] ?? namesrv_default,
      ...(timeout === undefined ? {} : { requestTimeoutMs: Number(timeout) }),
      ...(tls === undefined ? {} : { tls }),
      ...cliCredentials(parsed.flags, io.env),
    });
  } catch (error) {
    io.stderr(`mq-node admin: ${error instanceof Error ? error.message : String(error)}\n`);
    return usage_exit_code;
  }
  try {
    const output = await runVerb(admin, parsed, io);
    io.stdout(output);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`mq-node admin: ${error.message}\n${admin_usage}`);
      return usage_exit_code;
    }
    io.stderr(error instanceof MqError ? `mq-node admin: ${error.code}: ${error.message}\n` : `mq-node admin: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return failure_exit_code;
  } finally {
    await admin.close();
  }
}

function parseCommand(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      namesrv: { type: 'string' },
      json: { type: 'boolean' },
      queues: { type: 'string' },
      cluster: { type: 'string' },
      topic: { type: 'string' },
      key: { type: 'string' },
      group: { type: 'string' },
      max: { type: 'string' },
      'msg-id': { type: 'string' },
      all: { type: 'boolean' },
      'timeout-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...cli_tls_options,
      'access-key': { type: 'string' },
      'secret-key': { type: 'string' },
    },
  });
  return { flags: values, words: positionals, help: values.help === true || positionals.length === 0 };
}

async function runVerb(admin: Admin, parsed: ReturnType<typeof parseCommand>, io: AdminCommandIo): Promise<string> {
  const { flags, words } = parsed;
  const json = flags.json === true;
  const [noun, verb, argument] = words;
  const command = noun === 'cluster' ? 'cluster' : `${noun ?? ''} ${verb ?? ''}`;
  const expectWords = (count: number, what: string): string => {
    if (words.length !== count) throw new UsageError(`'${command}' takes ${what}`);
    return argument as string;
  };
  switch (command) {
    case 'topic create': {
      const topic = flags.topic ?? expectWords(3, 'one topic name');
      const queues = flags.queues === undefined ? undefined : Number(flags.queues);
      if (queues !== undefined && !Number.isInteger(queues)) throw new UsageError(`--queues takes a whole number, not ${JSON.stringify(flags.queues)}`);
      const route = await admin.createTopic({ topic, ...(queues === undefined ? {} : { queues }), ...(flags.cluster === undefined ? {} : { cluster: flags.cluster }) });
      return json ? toJson(route) : `topic ${topic} created on ${route.queues.map((queue) => queue.brokerName).join(', ')}\n${routeTable(route)}`;
    }
    case 'topic list': {
      expectWords(2, 'no arguments');
      const topics = await admin.listTopics(flags.cluster === undefined ? {} : { cluster: flags.cluster });
      return json ? toJson(topics) : formatTable(['TOPIC'], topics.map((topic) => [topic]));
    }
    case 'topic route': {
      const route = await admin.route(flags.topic ?? expectWords(3, 'one topic name'));
      return json ? toJson(route) : routeTable(route);
    }
    case 'group lag': {
      const group = expectWords(3, 'one group name');
      const lag = await admin.groupLag(group, flags.topic === undefined ? {} : { topic: flags.topic });
      return json ? toJson(lag) : lagTable(lag);
    }
    case 'cluster': {
      expectWords(1, 'no arguments');
      const cluster = await admin.cluster();
      return json ? toJson(cluster) : clusterTable(cluster, io.nowMs());
    }
    case 'namesrv status': {
      expectWords(2, 'no arguments');
      const statuses = await admin.namesrvStatus();
      return json ? toJson(statuses) : namesrvTable(statuses);
    }
    case 'message get': {
      const message = await admin.getMessage(expectWords(3, 'one message id'));
      return json ? toJson(messageJson(message)) : messageFields(message);
    }
    case 'message query': {
      expectWords(2, '--topic T --key K [--max N]');
      if (flags.topic === undefined || flags.key === undefined) throw new UsageError("'message query' needs --topic T and --key K");
      const found = await admin.queryMessages({ topic: flags.topic, key: flags.key, ...maxOption(flags.max) });
      const output = json ? toJson({ messages: found.messages.map(messageJson), unanswered: found.unanswered }) : messageQueryTable(flags.topic, flags.key, found.messages);
      if (found.unanswered.length === 0) return output;
      io.stdout(output);
      throw new MqError('BROKER_UNAVAILABLE', `${found.unanswered.length} broker group(s) could not be asked, their messages may be missing: ${found.unanswered.join('; ')}`);
    }
    case 'acl list': {
      expectWords(2, 'no arguments');
      return aclOutput(await admin.aclList(), json, io);
    }
    case 'acl set': {
      const file = expectWords(3, 'one account file (JSON)');
      let account: AclAccount;
      try {
        account = JSON.parse(readFileSync(file, 'utf8')) as AclAccount;
      } catch (error) {
        throw new UsageError(`'acl set' cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
      }
      return aclOutput(await admin.aclUpsert(account), json, io);
    }
    case 'acl delete': {
      return aclOutput(await admin.aclDelete(expectWords(3, 'one access key')), json, io);
    }
    case 'dlq list': {
      expectWords(2, '--group G [--max N]');
      const group = requiredGroup(flags.group);
      const dead_letters = await admin.deadLetters(group, maxOption(flags.max));
      return json ? toJson(dead_letters.map(messageJson)) : deadLetterTable(group, dead_letters);
    }
    case 'dlq resend': {
      expectWords(2, '--group G and --msg-id ID or --all');
      const group = requiredGroup(flags.group);
      const msg_id = flags['msg-id'];
      if ((msg_id === undefined) === (flags.all !== true)) throw new UsageError("'dlq resend' takes --msg-id ID or --all (one of them)");
      if (msg_id !== undefined) {
        if (flags.max !== undefined) throw new UsageError('--max goes with --all, not --msg-id');
        const result = await admin.resendDeadLetter(group, msg_id);
        return json ? toJson([{ msgId: msg_id, result, error: null }]) : resendTable([{ id: msg_id, result, error: undefined }]);
      }
      const outcomes = await admin.resendDeadLetters(group, maxOption(flags.max));
      const output = json ? toJson(outcomes.map(resendJson)) : outcomes.length === 0 ? `group ${group}: no dead letters\n` : resendTable(outcomes.map(resendRow));
      const failed = outcomes.filter((outcome) => outcome.error !== null);
      if (failed.length === 0) return output;
      io.stdout(output);
      const first = failed[0]?.error as MqError;
      throw new MqError(first.code, `${failed.length} of ${outcomes.length} dead letters were not resent (first: ${first.message}); resend those with --msg-id (--all again would resend the others twice)`);
    }
    default:
      throw new UsageError(`unknown command '${words.join(' ')}'`);
  }
}

/** `--access-key` with the secret from `--secret-key` or $MQ_SECRET_KEY (kept out of `ps`). */
function cliCredentials(flags: { 'access-key'?: string | undefined; 'secret-key'?: string | undefined }, env: NodeJS.ProcessEnv): { accessKey?: string; secretKey?: string } {
  const access_key = flags['access-key'] ?? env['MQ_ACCESS_KEY'];
  const secret_key = flags['secret-key'] ?? env['MQ_SECRET_KEY'];
  if (access_key === undefined && secret_key === undefined) return {};
  if (access_key === undefined || secret_key === undefined) throw new UsageError('--access-key needs its secret (--secret-key or $MQ_SECRET_KEY), and the secret its --access-key');
  return { accessKey: access_key, secretKey: secret_key };
}

/** Every node's outcome; a node that failed makes the command fail after printing them all. */
function aclOutput(outcomes: readonly AclNodeOutcome[], json: boolean, io: AdminCommandIo): string {
  const output = json ? toJson(outcomes) : formatTable(['NODE', 'ADDRESS', 'RESULT'], outcomes.map((outcome) => [
    outcome.node,
    outcome.address,
    outcome.error ?? (outcome.accounts === null ? 'done' : outcome.accounts.map((account) => `${account.accessKey}${account.admin === true ? ' (admin)' : ''}`).join(', ') || 'no accounts'),
  ]));
  const failed = outcomes.filter((outcome) => outcome.error !== null);
  if (failed.length === 0) return output;
  io.stdout(output);
  const first = failed[0]?.error ?? '';
  const code = first.slice(0, first.indexOf(':'));
  throw new MqError(isMqErrorCode(code) ? code : 'INTERNAL', `${failed.length} of ${outcomes.length} nodes did not do it (first: ${failed[0]?.node ?? ''}: ${first})`);
}

function requiredGroup(group: string | undefined): string {
  if (group === undefined || group === '') throw new UsageError('dlq commands need --group G');
  return group;
}

function maxOption(max: string | undefined): { max?: number } {
  if (max === undefined) return {};
  const value = Number(max);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--max takes a whole number >= 1, not ${JSON.stringify(max)}`);
  return { max: value };
}

function messageJson(message: ReceivedMessage): object {
  return { ...message, body: message.body.toString('base64'), bodyEncoding: 'base64' };
}

/** The id the producer got (what users know the message by), else the dead letter's own. */
function originIdOf(message: ReceivedMessage): string {
  return message.properties[system_properties.origin_message_id] ?? message.msgId;
}

function messageQueryTable(topic: string, key: string, messages: readonly ReceivedMessage[]): string {
  if (messages.length === 0) return `topic ${topic}: no message with key ${key}\n`;
  const rows = messages.map((message) => [
    message.msgId,
    new Date(message.storeTimestamp).toISOString(),
    message.brokerName,
    message.queueId,
    message.queueOffset,
    message.tag ?? '-',
    message.keys.join(' '),
    bodyPreview(message.body, dead_letter_body_preview_chars_max),
  ]);
  return `${formatTable(['MSG ID', 'STORED', 'BROKER', 'QUEUE', 'OFFSET', 'TAG', 'KEYS', 'BODY'], rows)}topic ${topic}, key ${key}: ${messages.length} message(s)\n`;
}

function deadLetterTable(group: string, dead_letters: readonly ReceivedMessage[]): string {
  if (dead_letters.length === 0) return `group ${group}: no dead letters\n`;
  const rows = dead_letters.map((message) => [
    originIdOf(message),
    message.properties[system_properties.origin_topic] ?? '-',
    message.reconsumeTimes,
    new Date(message.storeTimestamp).toISOString(),
    message.tag ?? '-',
    message.keys.join(' ') || '-',
    bodyPreview(message.body, dead_letter_body_preview_chars_max),
  ]);
  return `${formatTable(['MSG ID', 'ORIGIN TOPIC', 'RECONSUME TIMES', 'STORED', 'TAG', 'KEYS', 'BODY'], rows)}group ${group}: ${dead_letters.length} dead letter(s)\n`;
}

interface ResendRow {
  id: string;
  result: DeadLetterResend['result'];
  error: MqError | undefined;
}

function resendRow(outcome: DeadLetterResend): ResendRow {
  return { id: originIdOf(outcome.deadLetter), result: outcome.result, error: outcome.error ?? undefined };
}

function resendJson(outcome: DeadLetterResend): object {
  return {
    msgId: outcome.deadLetter.msgId,
    originMsgId: outcome.deadLetter.properties[system_properties.origin_message_id] ?? null,
    result: outcome.result,
    error: outcome.error === null ? null : { code: outcome.error.code, message: outcome.error.message },
  };
}

function resendTable(rows: readonly ResendRow[]): string {
  return formatTable(['MSG ID', 'STATUS', 'NEW MSG ID', 'BROKER', 'QUEUE', 'QUEUE OFFSET'], rows.map((row) => row.result === null
    ? [row.id, `FAILED ${row.error?.code ?? ''}`.trim(), '-', '-', '-', '-']
    : [row.id, row.result.status, row.result.msgId, row.result.brokerName, row.result.queueId, row.result.queueOffset]));
}

/**
 * A body shown in one line: its text when it is printable UTF-8, else base64; cut at
 * `chars_max` characters with '...' (control characters and newlines shown as spaces).
 */
function bodyPreview(body: Buffer, chars_max: number): string {
  const text = body.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(body) && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  const shown = (printable ? text : body.toString('base64')).replace(/[\s]+/g, ' ');
  if (shown === '') return '-';
  return shown.length > chars_max ? `${shown.slice(0, chars_max - 3)}...` : shown;
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function routeTable(route: RouteView): string {
  const rows = route.queues.map((queue) => {
    const broker = route.brokers.find((candidate) => candidate.brokerName === queue.brokerName);
    const addresses = broker?.addresses ?? {};
    const slaves = Object.entries(addresses).filter(([id]) => id !== '0').map(([id, address]) => `${id}=${address}`).join(' ');
    return [queue.brokerName, broker?.cluster ?? '', addresses['0'] ?? '(none)', slaves === '' ? '-' : slaves, queue.readQueues, queue.writeQueues, permText(queue.perm)];
  });
  return `topic ${route.topic}, route version ${route.routeVersion}\n${formatTable(['BROKER', 'CLUSTER', 'MASTER', 'SLAVES', 'READ', 'WRITE', 'PERM'], rows)}`;
}

function lagTable(lag: GroupLag): string {
  if (lag.queues.length === 0) return `group ${lag.group}: no committed offsets on any topic (name one with --topic to see its queues)\n`;
  const rows = lag.queues.map((queue) => [queue.topic, queue.brokerName, queue.queueId, queue.brokerOffset, queue.consumerOffset < 0 ? '-' : queue.consumerOffset, queue.lag]);
  return `${formatTable(['TOPIC', 'BROKER', 'QUEUE', 'BROKER OFFSET', 'CONSUMER OFFSET', 'LAG'], rows)}group ${lag.group}: total lag ${lag.lag}\n`;
}

function clusterTable(cluster: ClusterView, now_ms: number): string {
  const rows = cluster.groups.flatMap((group) =>
    group.members.map((member) => [
      group.cluster,
      group.brokerName,
      member.brokerId,
      member.brokerId === 0 ? 'master' : 'slave',
      member.address,
      member.haAddress === '' ? '-' : member.haAddress,
      member.epoch,
      `${Math.max(0, (now_ms - member.lastHeartbeatMs) / 1000).toFixed(1)} s ago`,
      member.maxOffset,
      member.brokerId === 0 || member.replicationLagBytes === null ? '-' : `${member.replicationLagBytes}${member.inSync ? '' : ' (not in sync)'}`,
    ]));
  if (rows.length === 0) return 'no broker is registered with the nameserver\n';
  return formatTable(['CLUSTER', 'BROKER', 'ID', 'ROLE', 'ADDRESS', 'HA ADDRESS', 'EPOCH', 'LAST HEARTBEAT', 'COMMITLOG END', 'BYTES BEHIND'], rows);
}

function namesrvTable(statuses: readonly NamesrvStatusView[]): string {
  const rows = statuses.map(({ address, status, error }) =>
    status === null
      ? [address, 'unreachable', '-', '-', '-', '-', '-', error ?? '']
      : [address, status.role, status.mode, status.term, status.leader || '-', status.lastSeq, status.commitSeq, status.chain.join(' -> ') || '-']);
  return formatTable(['NAMESRV', 'ROLE', 'REPLICATION', 'TERM', 'LEADER', 'LAST SEQ', 'COMMIT SEQ', 'CHAIN / FOLLOWERS'], rows);
}

function messageFields(message: ReceivedMessage): string {
  const text = message.body.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(message.body) && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  const preview = printable ? text : message.body.toString('base64');
  const shown = preview.length > body_preview_chars_max ? `${preview.slice(0, body_preview_chars_max)}... (--json shows all)` : preview;
  return formatFields([
    ['msgId', message.msgId],
    ['topic', message.topic],
    ['tag', message.tag ?? '-'],
    ['keys', message.keys.join(' ') || '-'],
    ['properties', Object.keys(message.properties).length === 0 ? '-' : JSON.stringify(message.properties)],
    ['broker', message.brokerName],
    ['queue', message.queueId],
    ['queue offset', message.queueOffset],
    ['commitlog offset', message.commitLogOffset],
    ['born', `${new Date(message.bornTimestamp).toISOString()} from ${message.bornHost}`],
    ['stored', `${new Date(message.storeTimestamp).toISOString()} on ${message.storeHost}`],
    ['reconsume times', message.reconsumeTimes],
    ['body size', `${message.body.byteLength} bytes`],
    [printable ? 'body' : 'body (base64)', shown],
  ]);
}

function permText(perm: number): string {
  return `${(perm & perm_read) !== 0 ? 'r' : '-'}${(perm & perm_write) !== 0 ? 'w' : '-'}`;
}
