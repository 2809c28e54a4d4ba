import type * as grpc from '@grpc/grpc-js';
import { settingsReply, roleOf, type SettingsOptions } from './client_settings.js';
import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { grpc_limits } from './grpc_limits.js';
import { isMalformed, type MalformedRequest } from './grpc_proto.js';
import { GrpcStatusError, isUnexpected, ok_status, statusOf } from './grpc_status.js';
import { Code, type Settings, type Status, type TelemetryCommand } from './grpc_types.js';

export type TelemetryCall = grpc.ServerDuplexStream<TelemetryCommand | MalformedRequest, TelemetryCommand>;

/** One open stream and its caller. */
interface Session {
  call: TelemetryCall;
  caller: GrpcCaller;
  /** Commands in the current one-second window (the stream's rate bound). */
  window_start_ms: number;
  window_commands: number;
  closed: boolean;
}

/**
 * Telemetry: the bidirectional stream every RocketMQ 5 client keeps open to each broker
 * endpoint (rocketmq-client-nodejs src/client/TelemetrySession.ts). The client writes its
 * Settings when the stream opens and every 5 minutes; the endpoint answers each with the full
 * Settings for the client's role (client_settings.ts) — the client's start-up waits for that
 * answer, with no timeout. The endpoint keeps each client's newest stream by x-mq-client-id,
 * so the server can later push commands to it (`push`: the transaction check-back's
 * recover_orphaned_transaction_command).
 *
 * A stream ends when the client half-closes it (the endpoint ends its side too: the client
 * then reopens after 1 s and writes its Settings again), on an error, or when the endpoint
 * stops (`closeAll`). A stream refused at the start (namespace, signature, too many streams)
 * gets one status-only command and ends: the client's pending start-up fails with it.
 *
 * Bounded: at most `telemetry_streams_max` streams open, at most
 * `telemetry_commands_per_second_max` commands per stream and second (a stream over it is
 * ended). Owned by the main thread; grpc-js calls in here one event at a time.
 */
export class TelemetrySessions {
  private readonly open = new Set<Session>();
  private readonly newest = new Map<string, Session>();

  constructor(
    private readonly context: GrpcContext,
    private readonly settings: SettingsOptions,
  ) {}

  get size(): number {
    return this.open.size;
  }

  readonly handle = (call: TelemetryCall): void => {
    let caller: GrpcCaller;
    try {
      caller = this.context.gate.admit(call.metadata, call.getPeer());
      this.context.gate.requireClientId(caller, 'Telemetry');
      if (this.open.size >= grpc_limits.telemetry_streams_max) {
        throw new GrpcStatusError(Code.TOO_MANY_REQUESTS, `this broker holds ${this.open.size} telemetry streams, its limit; retry later or use another broker`);
      }
    } catch (error) {
      this.refuse(call, error);
      return;
    }
    const session: Session = { call, caller, window_start_ms: this.context.clock.monotonicMs(), window_commands: 0, closed: false };
    this.open.add(session);
    call.on('data', (command: TelemetryCommand | MalformedRequest) => this.onCommand(session, command));
    // The client half-closed: end our side too (it reopens and resends its Settings).
    call.on('end', () => this.close(session));
    call.on('error', (error: Error) => {
      this.context.log.debug({ err: error, client_id: caller.client_id }, 'telemetry stream failed');
      this.close(session);
    });
    call.on('cancelled', () => this.close(session));
  };

  /** Whether `client_id` has a stream open (its Settings arrived on it). */
  has(client_id: string): boolean {
    const session = this.newest.get(client_id);
    return session !== undefined && !session.closed;
  }

  /** Writes `command` to the newest stream of `client_id`; false when it has none open. */
  push(client_id: string, command: TelemetryCommand): boolean {
    const session = this.newest.get(client_id);
    if (session === undefined || session.closed) return false;
    return this.write(session, command);
  }

  /** Ends every stream (the endpoint stops): clients reconnect elsewhere or when it is back. */
  closeAll(): void {
    for (const session of [...this.open]) this.close(session);
  }

  private onCommand(session: Session, command: TelemetryCommand | MalformedRequest): void {
    if (session.closed) return;
    const now_ms = this.context.clock.monotonicMs();
    if (now_ms - session.window_start_ms >= 1_000) {
      session.window_start_ms = now_ms;
      session.window_commands = 0;
    }
    if (++session.window_commands > grpc_limits.telemetry_commands_per_second_max) {
      this.context.log.warn({ client_id: session.caller.client_id, remote: session.caller.remote_ip }, `telemetry stream ended: more than ${grpc_limits.telemetry_commands_per_second_max} commands in a second`);
      this.write(session, { status: { code: Code.TOO_MANY_REQUESTS, message: `more than ${grpc_limits.telemetry_commands_per_second_max} telemetry commands in a second` } });
      this.close(session);
      return;
    }
    if (isMalformed(command)) {
      this.write(session, { status: { code: Code.BAD_REQUEST, message: `the telemetry command cannot be decoded: ${command.reason}` } });
      return;
    }
    if (command.command === 'settings' && command.settings !== undefined) {
      this.onSettings(session, command.settings);
      return;
    }
    // Answers to our own commands (thread_stack_trace, verify results) and bare statuses: the
    // endpoint sends none of those commands yet, so nothing waits for them.
    this.context.log.debug({ client_id: session.caller.client_id, command: command.command ?? 'status' }, 'telemetry command ignored');
  }

  private onSettings(session: Session, settings: Settings): void {
    const { caller } = session;
    let reply: Settings;
    try {
      reply = settingsReply(settings, this.settings);
    } catch (error) {
      if (isUnexpected(error)) this.context.log.error({ err: error, client_id: caller.client_id }, 'telemetry settings failed');
      this.write(session, { status: statusOf(error) });
      return;
    }
    const role = roleOf(settings);
    const listed = role === 'producer'
      ? (settings.publishing?.topics ?? []).map((topic) => topic.name)
      : (settings.subscription?.subscriptions ?? []).map((entry) => entry.topic?.name ?? '').filter((name) => name !== '');
    // A producer is asked about the half messages of the topics it lists (the check-back
    // carries their bodies): only topics its account may publish to count.
    const topics = listed.slice(0, grpc_limits.settings_topics_max).filter((topic) => role !== 'producer' || this.context.gate.allows(caller, { kind: 'topic', topic, perm: 'PUB' }));
    const group = role === 'consumer' ? settings.subscription?.group?.name : undefined;
    try {
      this.seen(caller, settings, group, topics);
    } catch (error) {
      this.write(session, { status: statusOf(error) });
      return;
    }
    this.newest.set(caller.client_id, session);
    // A consumer's group is registered before the answer: the client's startup() waits for
    // it, so every message sent after a consumer started is delivered to its group.
    const registered = group !== undefined && group !== '' ? this.context.consumption?.subscribed(this.context, caller, group, topics) : undefined;
    if (registered === undefined) {
      this.write(session, { status: ok_status, settings: reply });
      return;
    }
    void registered.then(() => this.write(session, { status: ok_status, settings: reply }));
  }

  private seen(caller: GrpcCaller, settings: Settings, group: string | undefined, topics: string[]): void {
    this.context.clients.seen(caller.client_id, {
      ...(settings.client_type === undefined ? {} : { client_type: settings.client_type }),
      ...(group === undefined ? {} : { group }),
      topics,
      account: caller.account?.accessKey ?? '',
      remote_ip: caller.remote_ip,
    }, this.context.clock.nowMs());
  }

  private write(session: Session, command: TelemetryCommand): boolean {
    if (session.closed) return false;
    try {
      session.call.write(command);
      return true;
    } catch (error) {
      this.context.log.debug({ err: error, client_id: session.caller.client_id }, 'telemetry write failed');
      this.close(session);
      return false;
    }
  }

  private refuse(call: TelemetryCall, error: unknown): void {
    const status: Status = statusOf(error);
    if (isUnexpected(error)) this.context.log.error({ err: error }, 'telemetry stream refused by an unexpected error');
    try {
      call.write({ status });
      call.end();
    } catch {
      // The client went away already.
    }
  }

  private close(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    this.open.delete(session);
    if (this.newest.get(session.caller.client_id) === session) this.newest.delete(session.caller.client_id);
    try {
      session.call.end();
    } catch {
      // Ended or cancelled already.
    }
  }
}
