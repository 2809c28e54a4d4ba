/**
 * `mq-node inspect --admin h:p [--once] [--timeout-ms N] [--access-key K]`: where a node's
 * inspector is, and with --once a text summary of what it shows (actors per thread, and a
 * broker's store) for terminals. Reads the node's admin HTTP API only (https with the TLS
 * flags: a node with --tls-cert serves its admin port over TLS). A node with an ACL serves it
 * to admin accounts only: --access-key, with the secret in $MQ_SECRET_KEY (a flag would show
 * in the process list), sent as HTTP Basic authentication. Exit codes: 0 done, 1 the node did
 * not answer or refused the account, 2 bad arguments.
 */
import { request as httpsRequest } from 'node:https';
import { parseArgs } from 'node:util';
import type { StoreView } from '../actors/store/store_view.js';
import { basicAuthorization } from '../admin/admin_auth.js';
import type { ActorStats } from '../runtime/actor_stats.js';
import { formatTable } from './admin_table.js';
import { cli_tls_options, cli_tls_usage, cliTls } from './cli_tls.js';
import type { ClientTlsOptions } from './client_options.js';

export const inspect_usage = `usage: mq-node inspect --admin h:p [--once] [--timeout-ms N] [--access-key K]
  prints the URL of the node's inspector (its admin port serves it);
  --once prints a summary of the same data instead: actors per thread, and a broker's store.
  ${cli_tls_usage}
  access control (nodes run with --acl-file): --access-key K of an admin account, its secret in $MQ_SECRET_KEY
`;

const timeout_ms_default = 5_000;

export interface InspectIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Where MQ_SECRET_KEY is read; process.env when absent. */
  env?: NodeJS.ProcessEnv;
}

const default_io: InspectIo = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };

export async function runInspectCommand(argv: readonly string[], io: InspectIo = default_io): Promise<number> {
  let options: InspectOptions;
  try {
    options = parseInspectArgs(argv, io.env ?? process.env);
  } catch (error) {
    io.stderr(`mq-node inspect: ${error instanceof Error ? error.message : String(error)}\n${inspect_usage}`);
    return 2;
  }
  const base = `${options.tls === undefined ? 'http' : 'https'}://${options.admin}`;
  if (!options.once) {
    io.stdout(`${base}/\n`);
    return 0;
  }
  try {
    const actors = (await getJson<{ actors: ActorStats[] }>(`${base}/api/actors`, options)).actors;
    io.stdout(actorSummary(actors));
    const store = await getJson<StoreView | undefined>(`${base}/api/store`, options, [404]);
    if (store !== undefined) io.stdout(`\n${storeSummary(store)}`);
    return 0;
  } catch (error) {
    io.stderr(`mq-node inspect: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

interface InspectOptions {
  admin: string;
  once: boolean;
  timeout_ms: number;
  tls: ClientTlsOptions | undefined;
  /** The `Authorization` header value, or undefined: no account given. */
  authorization: string | undefined;
  access_key: string | undefined;
}

function parseInspectArgs(argv: readonly string[], env: NodeJS.ProcessEnv): InspectOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { admin: { type: 'string' }, once: { type: 'boolean' }, 'timeout-ms': { type: 'string' }, 'access-key': { type: 'string' }, ...cli_tls_options },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.admin === undefined || !/^[^\s/:]+:\d{1,5}$/.test(values.admin)) throw new Error('--admin h:p is required (the admin address in the node\'s ready line)');
  const timeout_ms = values['timeout-ms'] === undefined ? timeout_ms_default : Number(values['timeout-ms']);
  if (!Number.isInteger(timeout_ms) || timeout_ms < 1) throw new Error(`--timeout-ms takes a whole number of milliseconds, not ${JSON.stringify(values['timeout-ms'])}`);
  const access_key = values['access-key'];
  const secret_key = access_key === undefined ? undefined : env['MQ_SECRET_KEY'];
  if (access_key !== undefined && (access_key === '' || access_key.includes(':'))) throw new Error('--access-key takes the access key of an admin account (no colon)');
  if (access_key !== undefined && (secret_key === undefined || secret_key === '')) throw new Error('--access-key needs its secret in $MQ_SECRET_KEY');
  return {
    admin: values.admin, once: values.once === true, timeout_ms, tls: cliTls(values), access_key,
    authorization: access_key === undefined || secret_key === undefined ? undefined : basicAuthorization(access_key, secret_key),
  };
}

/** The one line a refusal prints: what the node said and what to do about it. */
function refusalText(url: string, status: 401 | 403, body: string, access_key: string | undefined): string {
  let reason = body.trim();
  try {
    reason = (JSON.parse(body) as { error?: string }).error ?? reason;
  } catch {
    // Not JSON (a proxy's page): its text is the reason.
  }
  if (status === 403) return `${url} refused account "${access_key ?? '?'}" (403): ${reason}`;
  return access_key === undefined
    ? `${url} needs an admin account (401: the node runs access control): give --access-key K with its secret in $MQ_SECRET_KEY`
    : `${url} refused access key "${access_key}" (401: unknown, or not the secret in $MQ_SECRET_KEY)`;
}

/** GET `url` as JSON; a status in `absent` resolves undefined (the node has no such view). */
async function getJson<T>(url: string, options: Pick<InspectOptions, 'timeout_ms' | 'tls' | 'authorization' | 'access_key'>, absent: readonly number[] = []): Promise<T> {
  let response: { status: number; body: string };
  const headers: Record<string, string> = options.authorization === undefined ? {} : { authorization: options.authorization };
  try {
    response = options.tls === undefined ? await fetchText(url, options.timeout_ms, headers) : await httpsText(url, options.timeout_ms, options.tls, headers);
  } catch (error) {
    throw new Error(`${url} did not answer within ${options.timeout_ms} ms: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (response.status === 401 || response.status === 403) throw new Error(refusalText(url, response.status, response.body, options.access_key));
  if (absent.includes(response.status)) return undefined as T;
  if (response.status < 200 || response.status > 299) throw new Error(`${url} answered ${response.status}: ${response.body.trim()}`);
  return JSON.parse(response.body) as T;
}

async function fetchText(url: string, timeout_ms: number, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeout_ms) });
  return { status: response.status, body: await response.text() };
}

/** fetch() takes no CA of its own in Node 20; node:https does. */
function httpsText(url: string, timeout_ms: number, tls: ClientTlsOptions, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { method: 'GET', headers, ca: tls.ca as string | undefined, cert: tls.cert, key: tls.key, signal: AbortSignal.timeout(timeout_ms) }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

function actorSummary(actors: readonly ActorStats[]): string {
  const sorted = [...actors].sort((a, b) => a.thread - b.thread || b.mailboxDepth - a.mailboxDepth || a.address.localeCompare(b.address));
  const rows = sorted.map((actor) => [actor.thread, actor.address, actor.kind, actor.status, actor.mailboxDepth, Math.round(actor.ratePerSecond), Math.round(actor.busyMs), actor.restarts, actor.lastError ?? '-']);
  const threads = new Set(actors.map((actor) => actor.thread)).size;
  const unwell = actors.filter((actor) => actor.status !== 'running').length;
  return `${actors.length} actors on ${threads} threads${unwell === 0 ? '' : `, ${unwell} not running`}\n` +
    formatTable(['THREAD', 'ACTOR', 'KIND', 'STATUS', 'MAILBOX', 'MSG/S', 'BUSY MS', 'RESTARTS', 'LAST ERROR'], rows);
}

function storeSummary(store: StoreView): string {
  const log = store.commitLog;
  const lines = [
    `store (${store.role}): CommitLog min ${log.minOffset}, written ${log.writeOffset}, flushed ${log.flushOffset}` +
      (store.role === 'master' ? `, replicated ${log.replicatedOffset} (${log.replicasInSync} slaves in sync)` : ''),
    `${log.segments.length} segments of ${log.segmentBytes} bytes; ${store.queues.length + store.queuesLeftOut} queues`,
    ...store.disks.map((disk) => `disk ${disk.dir}: ${formatBytes(disk.freeBytes)} free of ${formatBytes(disk.totalBytes)}`),
  ];
  const rows = store.queues.map((queue) => [queue.topic, queue.queueId, queue.minOffset, queue.maxOffset]);
  return `${lines.join('\n')}\n${formatTable(['TOPIC', 'QUEUE', 'MIN OFFSET', 'MAX OFFSET'], rows)}`;
}

function formatBytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
