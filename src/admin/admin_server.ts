import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import { isIP, type AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { restart_hold_ms_max } from '../runtime/actor_cell.js';
import { MqError } from '../runtime/errors.js';
import type { Logger } from '../runtime/log.js';
import type { Acl } from '../server/auth/acl.js';
import { AdminAuth, admin_auth_challenge } from './admin_auth.js';
import { createMetricsRegistry } from './admin_metrics.js';
import type { AdminSource, HealthReport } from './admin_source.js';
import { loadInspectorAssets, type InspectorAsset } from './inspector_assets.js';
import { InspectorEvents } from './inspector_events.js';
import { logHandshakeFailures } from '../tls/tls_listener.js';

/**
 * The admin HTTP server of one node (main thread): health, Prometheus metrics and the
 * actor list as JSON. It reads everything from an AdminSource at request time and holds
 * no state of its own beyond the metrics registry.
 *
 *   GET /healthz      200 "ok", or 503 "unavailable: <reason>"
 *   GET /metrics      Prometheus text: process metrics, mq_actor_* series, and on a broker its
 *                     topic traffic, group lag, CommitLog and replication positions (admin_metrics.ts)
 *   GET /api/actors   {"actors": ActorStats[]}
 *   GET /api/store    StoreView (actors/store/store_view.ts); 404 on a node without a store
 *   GET /api/events   server-sent events: a snapshot of actors and store each second
 *   GET /api/cluster  nameservers, brokers and topic routes, as the node's nameservers see them
 *   GET /api/groups   consumer groups: members and lag per queue
 *   GET /api/messages/<msgId>   one message: properties and body (text or hex)
 *   GET /api/messages?topic=T&key=K[&max=N]   the topic's messages with business key K, newest first
 *   GET /             the inspector page (its files under /inspector/)
 *   POST /api/actors/restart?address=A[&holdMs=N]   with header `x-mq-confirm: restart A`:
 *                     restarts one actor as its supervisor would (held down N ms, for drills);
 *                     404 when no running actor has that address
 *   other paths       404 JSON; other methods 405 JSON
 *
 * The restart is the one request that changes anything; the confirmation header (which a
 * page can only send from script, not from a link or a form) keeps a stray click or a
 * crawler from restarting actors. Who may reach the admin port at all is the operator's
 * network decision (bind --admin-port to loopback or a management network) and, with the
 * node's ACL on, its admin accounts': every request but `GET /healthz` then needs HTTP Basic
 * authentication with one (admin_auth.ts), 401 without, 403 for another account. /healthz
 * stays open: load balancers probe it, and it tells nothing but "ok" or why not.
 *
 * With the node's TLS it serves https (and, when the node has a CA, only to clients with a
 * certificate it signed, as every other port of the node).
 */

export const admin_server_limits = {
  /** A source call (asks every worker thread) that takes longer has failed; the answer is 503. */
  source_call_timeout_ms: 5_000,
  /** Operators and scrapers only: a flood of connections is refused rather than queued. */
  connections_max: 64,
  /** Whole request, headers included; GET requests are tiny. */
  request_timeout_ms: 10_000,
  /** Operator restarts one node takes per minute; more answer 429 (a stuck script, or worse). */
  restarts_per_minute_max: 10,
} as const;

export interface AdminServerOptions {
  host: string;
  /** 0 picks a free port; `address.port` tells which. */
  port: number;
  source: AdminSource;
  /** Request failures are logged here; without one they are only answered. */
  log?: Logger;
  /** Overrides admin_server_limits.source_call_timeout_ms (tests use a short one). */
  source_call_timeout_ms?: number;
  /** Host names (besides IP addresses and localhost) a request may name in its Host header. */
  host_names?: readonly string[];
  /** https with these (tls/node_tls.ts nodeServerOptions); absent: http. */
  tls?: TlsOptions;
  /** The node's ACL in force (read per request), when access control is on; absent: open. */
  acl?: () => Acl;
}

type Route = (response: ServerResponse, url: URL, request: IncomingMessage) => Promise<void>;

export class AdminServer {
  private constructor(
    private readonly server: Server,
    readonly address: { host: string; port: number },
  ) {}

  /** Listens; rejects with a message that names the address when the port is taken. */
  static async start(options: AdminServerOptions): Promise<AdminServer> {
    const timeout_ms = options.source_call_timeout_ms ?? admin_server_limits.source_call_timeout_ms;
    const bounded = <T>(promise: Promise<T>, what: string): Promise<T> => withTimeout(promise, what, timeout_ms);
    const registry = createMetricsRegistry(options.source, bounded);
    const guard = new RequestGuard(options.host_names ?? []);
    const auth = options.acl === undefined ? undefined : new AdminAuth({ acl: options.acl, ...(options.log === undefined ? {} : { log: options.log }) });
    if (auth !== undefined && options.tls === undefined) {
      options.log?.warn('the admin HTTP port runs plain http while access control is on: HTTP Basic authentication sends the secret key with every request, readable on the network; give the node --tls-cert and --tls-key to serve it over https');
    }
    const routes = createRoutes(options.source, registry, bounded, loadInspectorAssets(), new InspectorEvents(options.source, bounded));
    const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
      handle(routes, options.source, guard, auth, bounded, request, response).catch((error: unknown) => {
        options.log?.error({ err: error, url: request.url }, 'admin request failed');
        if (!response.headersSent) sendJson(response, 500, { error: errorText(error) });
        else response.destroy();
      });
    };
    let server: Server;
    if (options.tls === undefined) {
      server = createServer({ requestTimeout: admin_server_limits.request_timeout_ms }, onRequest);
    } else {
      // The TLS handshake is bounded like the rest of a request.
      const https_server = createHttpsServer({ ...options.tls, requestTimeout: admin_server_limits.request_timeout_ms, handshakeTimeout: admin_server_limits.request_timeout_ms }, onRequest);
      if (options.log !== undefined) logHandshakeFailures(https_server, { log: options.log, listener: 'admin' });
      server = https_server;
    }
    server.maxConnections = admin_server_limits.connections_max;
    await new Promise<void>((resolve, reject) => {
      const on_error = (error: NodeJS.ErrnoException): void => {
        const hint = error.code === 'EADDRINUSE' ? ' (the port is in use: choose another with --admin-port, or 0 for a free one)' : '';
        reject(new Error(`admin HTTP server cannot listen on ${options.host}:${options.port}: ${error.message}${hint}`, { cause: error }));
      };
      server.once('error', on_error);
      server.listen(options.port, options.host, () => {
        server.off('error', on_error);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    return new AdminServer(server, { host: bound.address, port: bound.port });
  }

  /** Stops accepting and closes open connections (keep-alive ones included); idempotent. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

/** Bounds a source call by the server's timeout (a wedged worker thread answers 503). */
export type Bound = <T>(promise: Promise<T>, what: string) => Promise<T>;

function createRoutes(
  source: AdminSource,
  registry: Registry,
  bounded: Bound,
  assets: ReadonlyMap<string, InspectorAsset>,
  events: InspectorEvents,
): ReadonlyMap<string, Route> {
  const asset = (name: string): Route => async (response) => {
    const file = assets.get(name) as InspectorAsset;
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' });
    response.end(file.body);
  };
  return new Map<string, Route>([
    ['/', asset('index.html')],
    ...[...assets.keys()].map((name): [string, Route] => [`/inspector/${name}`, asset(name)]),
    ['/api/cluster', async (response) => sendView(response, source.clusterView, (view) => bounded(view(), 'reading the cluster'))],
    ['/api/groups', async (response) => sendView(response, source.groupsView, (view) => bounded(view(), 'reading the consumer groups'))],
    ['/api/messages', async (response, url) => {
      const topic = url.searchParams.get('topic') ?? '';
      const key = url.searchParams.get('key') ?? '';
      const max_text = url.searchParams.get('max');
      if (topic === '' || key === '' || (max_text !== null && !/^\d{1,4}$/.test(max_text))) {
        sendJson(response, 400, { error: 'look messages up by key with /api/messages?topic=T&key=K[&max=N] (or by id with /api/messages/<msgId>)' });
        return;
      }
      const query = { topic, key, ...(max_text === null ? {} : { max: Number(max_text) }) };
      await sendView(response, source.messageQueryView, (view) => bounded(view(query), 'looking up messages by key'));
    }],
    ['/api/events', async (response) => {
      if (!events.open(response)) sendJson(response, 503, { error: 'too many inspector pages watch this node; close one' });
    }],
    ['/healthz', async (response) => {
      let report: HealthReport;
      try {
        report = await bounded(source.health(), 'the health probe');
      } catch (error) {
        report = { ok: false, reason: errorText(error) };
      }
      if (report.ok) sendText(response, 200, 'ok\n');
      else sendText(response, 503, `unavailable: ${report.reason ?? 'not ready'}\n`);
    }],
    ['/metrics', async (response) => {
      let text: string;
      try {
        text = await registry.metrics();
      } catch (error) {
        // A failed scrape is the honest signal (Prometheus marks the target down); serving
        // the process metrics alone would hide that the actors could not be read.
        sendText(response, 503, `metrics unavailable: ${errorText(error)}\n`);
        return;
      }
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(text);
    }],
    ['/api/actors', async (response) => {
      try {
        sendJson(response, 200, { actors: await bounded(source.listActors(), 'listing the actors') });
      } catch (error) {
        sendJson(response, 503, { error: errorText(error) });
      }
    }],
    ['/api/store', async (response) => {
      if (source.storeView === undefined) {
        sendJson(response, 404, { error: 'this node has no store (a nameserver): ask a broker or standalone node' });
        return;
      }
      let view;
      try {
        view = source.storeView();
      } catch (error) {
        sendJson(response, 503, { error: errorText(error) });
        return;
      }
      sendJson(response, 200, view);
    }],
  ]);
}

/**
 * What the admin server refuses before routing: a Host header naming a host this node does
 * not answer to (a web page that rebound its own DNS name to this address would otherwise be
 * same-origin with the inspector), and restarts beyond a rate.
 */
class RequestGuard {
  private restarts_ms: number[] = [];

  constructor(private readonly host_names: readonly string[]) {}

  hostRefusal(request: IncomingMessage): string | undefined {
    const host = request.headers.host ?? '';
    const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
    if (isIP(name) !== 0 || name === 'localhost' || this.host_names.includes(name)) return undefined;
    return `the Host header names ${JSON.stringify(host)}, which this admin server does not answer to: reach it by IP address, localhost or ${this.host_names.join(', ') || 'its address'}`;
  }

  takeRestart(now_ms: number): boolean {
    this.restarts_ms = this.restarts_ms.filter((at_ms) => now_ms - at_ms < 60_000);
    if (this.restarts_ms.length >= admin_server_limits.restarts_per_minute_max) return false;
    this.restarts_ms.push(now_ms);
    return true;
  }
}

async function handle(
  routes: ReadonlyMap<string, Route>,
  source: AdminSource,
  guard: RequestGuard,
  auth: AdminAuth | undefined,
  bounded: Bound,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://admin.invalid');
  const path = url.pathname;
  const refusal = guard.hostRefusal(request);
  if (refusal !== undefined) {
    response.setHeader('connection', 'close');
    sendJson(response, 403, { error: refusal });
    return;
  }
  if (auth !== undefined && !(request.method === 'GET' && path === '/healthz')) {
    const verdict = auth.check(request);
    if (!verdict.ok) {
      if (verdict.status === 401) response.setHeader('www-authenticate', admin_auth_challenge);
      // A refused request's body (if any) is not read.
      response.setHeader('connection', 'close');
      sendJson(response, verdict.status, { error: verdict.reason });
      return;
    }
  }
  if (request.method === 'POST' && path === restart_path) {
    // The body (if any) is not read: close the connection instead of draining it.
    response.setHeader('connection', 'close');
    await restartActor(source, guard, url, request, response);
    return;
  }
  if (request.method !== 'GET') {
    response.setHeader('allow', 'GET');
    response.setHeader('connection', 'close');
    sendJson(response, 405, { error: `method ${request.method ?? '?'} is not allowed; the admin API is read-only (use GET) but for POST ${restart_path}` });
    return;
  }
  if (path.startsWith(messages_path)) {
    let msg_id: string;
    try {
      msg_id = decodeURIComponent(path.slice(messages_path.length));
    } catch {
      sendJson(response, 400, { error: 'the message id in the path is not valid percent-encoding' });
      return;
    }
    await sendView(response, source.messageView, (view) => bounded(view(msg_id), 'looking up the message'));
    return;
  }
  const route = routes.get(path);
  if (route === undefined) {
    sendJson(response, 404, { error: `no such path: ${path}`, paths: [...routes.keys()] });
    return;
  }
  await route(response, url, request);
}

const restart_path = '/api/actors/restart';
const messages_path = '/api/messages/';

/**
 * Answers a view the node may not have: 404 without it, 400 for a request the cluster calls
 * bad (an unknown message id), 503 when the cluster could not be read.
 */
async function sendView<V>(response: ServerResponse, view: V | undefined, read: (view: V) => Promise<unknown>): Promise<void> {
  if (view === undefined) {
    sendJson(response, 404, { error: 'this node does not serve that view' });
    return;
  }
  let body: unknown;
  try {
    body = await read(view);
  } catch (error) {
    const status = error instanceof MqError && error.code === 'BAD_REQUEST' ? 400 : error instanceof MqError && error.code === 'ACCESS_DENIED' ? 403 : 503;
    sendJson(response, status, { error: errorText(error) });
    return;
  }
  sendJson(response, 200, body);
}

async function restartActor(source: AdminSource, guard: RequestGuard, url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const address = url.searchParams.get('address') ?? '';
  if (address === '') {
    sendJson(response, 400, { error: `name the actor: POST ${restart_path}?address=<address>` });
    return;
  }
  if (request.headers['x-mq-confirm'] !== `restart ${address}`) {
    sendJson(response, 400, { error: `a restart must be confirmed: send the header "x-mq-confirm: restart ${address}"` });
    return;
  }
  const hold_text = url.searchParams.get('holdMs') ?? '0';
  const hold_ms = /^\d{1,6}$/.test(hold_text) ? Number(hold_text) : -1;
  if (hold_ms < 0 || hold_ms > restart_hold_ms_max) {
    sendJson(response, 400, { error: `holdMs takes whole milliseconds from 0 to ${restart_hold_ms_max}, not ${JSON.stringify(hold_text)}` });
    return;
  }
  if (!guard.takeRestart(Date.now())) {
    sendJson(response, 429, { error: `more than ${admin_server_limits.restarts_per_minute_max} restarts in a minute on this node; wait` });
    return;
  }
  const outcome = source.restartActor === undefined ? 'not_running' : await source.restartActor(address, hold_ms);
  switch (outcome) {
    case 'not_running':
      sendJson(response, 404, { error: `no running actor '${address}' on this node (it may be restarting, failed or stopped already)` });
      return;
    case 'after_handler':
      // A handler that never settles keeps it waiting: the page shows the actor still running.
      sendJson(response, 202, { restarting: address, when: 'its running handler settles' });
      return;
    case 'restarting':
      sendJson(response, 200, { restarted: address });
      return;
  }
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(text);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`${JSON.stringify(body)}\n`);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Bounds a source call: a wedged worker thread must give a 503, not a hung request. */
function withTimeout<T>(promise: Promise<T>, what: string, timeout_ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeout_ms} ms`)), timeout_ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
