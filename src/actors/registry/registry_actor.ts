import {
  decodeBrokerHeartbeatRequest,
  decodeDeleteTopicRequest,
  decodeGetClusterInfoRequest,
  decodeGetRouteRequest,
  decodeGetTopicListRequest,
  decodeNsFetchResponse,
  decodeRegisterBrokerRequest,
  decodeUnregisterBrokerRequest,
  encodeBrokerHeartbeatResponse,
  encodeClusterInfo,
  protocol_version_max,
  encodeDeleteTopicResponse,
  encodeNsFetchResponse,
  encodeRegisterBrokerResponse,
  encodeTopicList,
  encodeTopicRouteData,
  encodeUnregisterBrokerResponse,
  type NsLogEntry,
  type Result,
} from '../../protocol/index.js';
import { defineActor, type ActorContext } from '../../runtime/actor.js';
import { assert, assertNever } from '../../runtime/assert.js';
import type { Clock } from '../../runtime/clock.js';
import { MqError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { decodeRegistryCommand, type RegistryCommand } from './registry_commands.js';
import type { RegistryEvent } from './registry_events.js';
import { RegistryJournal } from './registry_journal.js';
import { registry_limits, registry_log_limits } from './registry_limits.js';
import { RegistryLog } from './registry_log.js';
import { registry_protocol, type RegistryArgs, type RegistryMessage, type RegistryReply } from './registry_messages.js';
import { encodeRegistrySnapshot, decodeRegistrySnapshot, type RegistrySnapshot } from './registry_snapshot.js';
import { RouteRegistry } from './route_registry.js';

const no_response = Buffer.alloc(0);

/** What applying one command did. */
interface Applied {
  response: Buffer;
  events: RegistryEvent[];
  /** False when the command left the registry as it was: such a command is not logged. */
  changed: boolean;
}

/**
 * The nameserver's registry (`namesrv/registry`): one actor, so every change to routes is
 * applied one at a time, and versions, events and log entries come out in one order.
 *
 * It is a replicated state machine: the leader `execute`s commands and logs each that
 * changed something as entry (seq, term); followers `replicate` the same entries in the same
 * order and so hold the same registry. The time a command reads is the time in it
 * (CommandClock), never this thread's clock. With a journal directory, entries and periodic
 * snapshots go to disk and a restart resumes from them.
 */
class RegistryActor {
  private readonly clock = new CommandClock();
  private readonly registry: RouteRegistry;
  private readonly log = new RegistryLog(registry_log_limits.entries_in_memory_max);
  private readonly journal: RegistryJournal | undefined;
  private entries_since_snapshot = 0;

  constructor(context: ActorContext, args: RegistryArgs) {
    const expiry_ms = args.broker_expiry_ms;
    // The configuration checked the range already (--broker-expiry-ms): out of it is a bug.
    assert(
      Number.isInteger(expiry_ms) && expiry_ms >= registry_limits.broker_expiry_ms_min && expiry_ms <= registry_limits.broker_expiry_ms_max,
      `broker expiry ${expiry_ms} ms is not in ${registry_limits.broker_expiry_ms_min}..${registry_limits.broker_expiry_ms_max}`,
    );
    this.registry = new RouteRegistry({ clock: this.clock, broker_expiry_ms: expiry_ms });
    this.journal = args.journal_dir === '' ? undefined : new RegistryJournal(args.journal_dir, context.log);
    if (this.journal !== undefined) this.recover(this.journal, context.log);
  }

  receive(message: RegistryMessage): RegistryReply {
    switch (message.kind) {
      case 'execute':
        return this.execute(message.term, decodeRegistryCommand(message.command), message.command);
      case 'replicate':
        return this.replicate(message.fetched);
      case 'read_log':
        return this.reply(encodeNsFetchResponse(this.readLog(message.from_seq, message.prev_term, message.bytes_max)));
      case 'take_snapshot':
        return this.reply(encodeRegistrySnapshot(this.snapshot()));
      case 'get_route':
        return this.reply(encodeTopicRouteData(this.registry.route(decoded(decodeGetRouteRequest(message.body)).topic)));
      case 'get_cluster_info':
        decoded(decodeGetClusterInfoRequest(message.body));
        // Always the newest version: the listener re-encodes it for a connection of an older one.
        return this.reply(encodeClusterInfo(this.registry.clusterInfo(), protocol_version_max));
      case 'get_topic_list':
        return this.reply(encodeTopicList(this.registry.topicList(decoded(decodeGetTopicListRequest(message.body)).cluster)));
      case 'position':
        return this.reply(no_response);
      default:
        return assertNever(message, 'registry message');
    }
  }

  stop(): void {
    this.journal?.close();
  }

  inspect(): Record<string, unknown> {
    return { ...this.registry.summary(), last_seq: this.log.lastSeq, last_term: this.log.lastTerm };
  }

  // ---- leader ---------------------------------------------------------------------------

  private execute(term: number, command: RegistryCommand, bytes: Buffer): RegistryReply {
    // A leader deposed while its write waited its turn: entries of a newer term are here already.
    if (term < this.log.lastTerm) {
      throw new MqError('BROKER_UNAVAILABLE', `this nameserver no longer leads (its log is at term ${this.log.lastTerm}, the write was taken in term ${term}); send it again`, { retriable: true });
    }
    const applied = this.apply(command);
    if (applied.changed) this.append([{ seq: this.log.lastSeq + 1, term, command: bytes }]);
    return { ...this.reply(applied.response, applied.events), logged: applied.changed };
  }

  // ---- follower -------------------------------------------------------------------------

  private replicate(fetched: Buffer): RegistryReply {
    const chunk = decodeNsFetchResponse(fetched);
    if (!chunk.ok) throw new MqError('BAD_REQUEST', `the upstream nameserver sent log entries that do not decode: ${chunk.error.message}`);
    if (chunk.value.kind === 'snapshot') {
      this.install(decodeRegistrySnapshot(chunk.value.snapshot));
      return { ...this.reply(no_response), installed_snapshot: true };
    }
    const events: RegistryEvent[] = [];
    const fresh: NsLogEntry[] = [];
    for (const entry of chunk.value.entries) {
      if (entry.seq <= this.log.lastSeq) continue; // a fetch answered twice (a retry)
      assert(entry.seq === this.log.lastSeq + fresh.length + 1, `replicated entry ${entry.seq} leaves a gap after ${this.log.lastSeq + fresh.length}`);
      // A command the leader logged succeeded there; on the same state it succeeds here.
      events.push(...this.apply(decodeRegistryCommand(entry.command)).events);
      fresh.push(entry);
    }
    this.append(fresh);
    return this.reply(no_response, events);
  }

  /**
   * What a follower fetching from `from_seq` gets: the entries from there, if this log holds
   * the entry before it with the term the follower has (so both logs agree up to there);
   * otherwise the whole registry as a snapshot, which replaces the follower's log — also
   * when the follower holds entries this node does not (an old leader's, never committed).
   */
  private readLog(from_seq: number, prev_term: number, bytes_max: number) {
    const matches = from_seq >= 1 && from_seq - 1 <= this.log.lastSeq && this.log.termAt(from_seq - 1) === prev_term;
    if (matches) return { kind: 'entries' as const, entries: this.log.from(from_seq, bytes_max), snapshotSeq: 0, snapshotTerm: 0, snapshot: no_response };
    const snapshot = this.snapshot();
    return { kind: 'snapshot' as const, entries: [], snapshotSeq: snapshot.seq, snapshotTerm: snapshot.term, snapshot: encodeRegistrySnapshot(snapshot) };
  }

  private install(snapshot: RegistrySnapshot): void {
    this.registry.importState(snapshot.state);
    this.log.reset(snapshot.seq, snapshot.term);
    this.journal?.writeSnapshot(snapshot);
    this.entries_since_snapshot = 0;
  }

  // ---- both -----------------------------------------------------------------------------

  /** Applies one command at its own time. Validation errors leave the registry unchanged. */
  private apply(command: RegistryCommand): Applied {
    this.clock.at_ms = command.at_ms;
    const registry = this.registry;
    switch (command.kind) {
      case 'register_broker': {
        const outcome = registry.register(decoded(decodeRegisterBrokerRequest(command.body)), command.connection_id);
        return { response: encodeRegisterBrokerResponse(outcome.value), events: outcome.events, changed: true };
      }
      case 'broker_heartbeat': {
        const answer = registry.heartbeat(decoded(decodeBrokerHeartbeatRequest(command.body)), command.connection_id);
        return { response: encodeBrokerHeartbeatResponse(answer), events: [], changed: !answer.registrationNeeded };
      }
      case 'unregister_broker': {
        const outcome = registry.unregister(decoded(decodeUnregisterBrokerRequest(command.body)));
        return { response: encodeUnregisterBrokerResponse(outcome.value), events: outcome.events, changed: outcome.events.length > 0 };
      }
      case 'delete_topic': {
        const outcome = registry.deleteTopic(decoded(decodeDeleteTopicRequest(command.body)).topic);
        return { response: encodeDeleteTopicResponse(outcome.value), events: outcome.events, changed: true };
      }
      case 'connection_closed': {
        const events = registry.connectionClosed(command.connection_id);
        return { response: no_response, events, changed: events.length > 0 };
      }
      case 'expire': {
        const events = registry.expire();
        return { response: no_response, events, changed: events.length > 0 };
      }
      case 'lead':
        registry.lead();
        return { response: no_response, events: [], changed: true };
      default:
        return assertNever(command, 'registry command');
    }
  }

  private append(entries: NsLogEntry[]): void {
    for (const entry of entries) this.log.append(entry);
    if (this.journal === undefined || entries.length === 0) return;
    this.journal.append(entries);
    this.entries_since_snapshot += entries.length;
    if (this.entries_since_snapshot >= registry_log_limits.snapshot_every_entries) {
      this.journal.writeSnapshot(this.snapshot());
      this.entries_since_snapshot = 0;
    }
  }

  private snapshot(): RegistrySnapshot {
    return { seq: this.log.lastSeq, term: this.log.lastTerm, state: this.registry.exportState() };
  }

  private recover(journal: RegistryJournal, log: Logger): void {
    const { snapshot, entries } = journal.open();
    if (snapshot !== undefined) {
      this.registry.importState(snapshot.state);
      this.log.reset(snapshot.seq, snapshot.term);
    }
    for (const entry of entries) {
      this.apply(decodeRegistryCommand(entry.command));
      this.log.append(entry);
    }
    this.entries_since_snapshot = entries.length;
    log.info({ snapshot_seq: snapshot?.seq ?? 0, entries: entries.length, last_seq: this.log.lastSeq, last_term: this.log.lastTerm }, 'registry recovered from its journal');
  }

  private reply(response: Buffer, events: RegistryEvent[] = []): RegistryReply {
    return { response, events, last_seq: this.log.lastSeq, last_term: this.log.lastTerm, logged: false, installed_snapshot: false };
  }
}

/** The clock the registry reads: the time of the command being applied. */
class CommandClock implements Clock {
  at_ms = 0;
  nowMs(): number {
    return this.at_ms;
  }
  monotonicMs(): number {
    return this.at_ms;
  }
}

/** A request body that does not decode is the sender's fault: BAD_REQUEST, saying why. */
function decoded<T>(result: Result<T>): T {
  if (!result.ok) throw new MqError('BAD_REQUEST', result.error.message);
  return result.value;
}

export const actor = defineActor<RegistryMessage, RegistryReply, RegistryArgs>({
  name: 'registry',
  protocol: registry_protocol,
  create: (context, args) => new RegistryActor(context, args),
});
