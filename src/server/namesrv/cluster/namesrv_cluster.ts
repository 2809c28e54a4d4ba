import {
  clusterInfoForVersion,
  decodeClusterInfo,
  encodeClusterInfo,
  protocol_version_max,
  decodeNsAckRequest,
  decodeNsBeatRequest,
  decodeNsBeatResponse,
  decodeNsFetchRequest,
  decodeNsForwardRequest,
  decodeNsForwardResponse,
  decodeNsStatusRequest,
  decodeNsVoteRequest,
  decodeNsVoteResponse,
  encodeNsAckResponse,
  encodeNsBeatRequest,
  encodeNsBeatResponse,
  encodeNsForwardRequest,
  encodeNsForwardResponse,
  encodeNsStatus,
  encodeNsVoteRequest,
  encodeNsVoteResponse,
  request_codes,
  type NsBeatRequest,
  type Result,
} from '../../../protocol/index.js';
import type { Clock } from '../../../runtime/clock.js';
import { MqError } from '../../../runtime/errors.js';
import type { Logger } from '../../../runtime/log.js';
import type { NamesrvReplication } from '../../config.js';
import type { RequestRouter } from '../../remoting/request_router.js';
import type { RegistryClient } from '../registry_client.js';
import { CommitTracker } from './commit_tracker.js';
import { Election, type LogPosition } from './election.js';
import { cluster_limits } from './cluster_limits.js';
import { FetchWaiters } from './fetch_waiters.js';
import { LogFollower } from './log_follower.js';
import { PeerLinks } from './peer_links.js';
import { commandOf, connection_closed_code, isReadCode, isWriteCode, type RegistryWrite } from './registry_writes.js';
import { ReplicationView } from './replication_view.js';
import type { TermStore } from './term_store.js';
import type { TlsDialOptions } from '../../../tls/tls_dial.js';
import type { Credentials } from '../../../client/remoting/request_signer.js';

export interface NamesrvClusterOptions {
  /** This node's `host:port`, as its peers list it. */
  self: string;
  /** The other nameservers; none: this node is the registry alone (no election, no log on disk). */
  peers: readonly string[];
  mode: NamesrvReplication;
  election_timeout_ms: number;
  semi_sync_acks: number;
  semi_sync_timeout_ms: number;
  terms: TermStore;
  registry: RegistryClient;
  clock: Clock;
  random: () => number;
  log: Logger;
  /** The node's TLS for dialling the other nameservers (tls/node_tls.ts); absent: plain TCP. */
  tls?: TlsDialOptions;
  /** The node's account (access control): requests to the other nameservers are signed with it. */
  credentials?: Credentials | undefined;
}

/**
 * The replicated registry on one nameserver: who leads (Election), how writes reach the
 * leader (forwarded by followers), how entries reach followers (each fetches from its
 * upstream: the leader, or its predecessor in a chain), and when the leader may answer a
 * write (CommitTracker, per --replication).
 *
 * Reads are answered by every node from its own registry, except in chain mode, where a
 * node that is not the tail forwards them to the tail (the tail has applied everything that
 * was ever acknowledged). Owned by the nameserver's main thread.
 */
export class NamesrvCluster {
  private readonly election: Election | undefined;
  private readonly links: PeerLinks;
  private readonly commits: CommitTracker;
  private view: ReplicationView;
  private position: LogPosition = { last_seq: 0, last_term: 0 };
  private readonly fetchers = new FetchWaiters();
  /** The follower's side; undefined for a node alone. */
  private readonly follower: LogFollower | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The log position this node resumed from when it started (from its journal). */
  private resumed_from_seq = 0;

  constructor(private readonly options: NamesrvClusterOptions) {
    this.links = new PeerLinks(options.self, options.tls, options.credentials);
    this.commits = new CommitTracker({
      mode: options.mode,
      semi_sync_acks: options.semi_sync_acks,
      semi_sync_timeout_ms: options.semi_sync_timeout_ms,
      sync_followers_min: Math.floor((options.peers.length + 1) / 2),
      log: options.log,
    });
    this.view = this.freshView();
    if (options.peers.length > 0) {
      const election = new Election({
        self: options.self, peers: options.peers, election_timeout_ms: options.election_timeout_ms, clock: options.clock, random: options.random, store: options.terms,
      });
      this.election = election;
      this.follower = new LogFollower({
        self: options.self, mode: options.mode, election, links: this.links, registry: options.registry, position: () => this.position, idle_ms: this.beatIntervalMs(), log: options.log,
      });
    }
    options.registry.onChange((reply) => {
      this.position = { last_seq: reply.last_seq, last_term: reply.last_term };
      this.fetchers.wake(reply.last_seq);
    });
  }

  async start(): Promise<void> {
    this.position = await this.options.registry.position();
    this.resumed_from_seq = this.position.last_seq;
    if (this.election === undefined) return;
    this.timer = setInterval(() => this.tick(), this.beatIntervalMs());
    this.follower?.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.fetchers.wakeAll();
    this.commits.abandon('this nameserver is stopping');
    const stopping = this.follower?.stop();
    this.links.close();
    await stopping;
  }

  /** Request handlers of the nameserver-to-nameserver protocol. */
  addHandlers(router: RequestRouter): void {
    router
      .on(request_codes.NS_VOTE, (body) => this.onVote(decoded(decodeNsVoteRequest(body))))
      .on(request_codes.NS_BEAT, (body) => this.onBeat(decoded(decodeNsBeatRequest(body))))
      .on(request_codes.NS_FETCH, (body) => this.onFetch(decoded(decodeNsFetchRequest(body))))
      .on(request_codes.NS_ACK, (body) => this.onAck(decoded(decodeNsAckRequest(body))))
      .on(request_codes.NS_FORWARD, (body, { connection }) => this.onForward(decoded(decodeNsForwardRequest(body)), connection.protocol_version))
      .on(request_codes.NS_STATUS, (body) => this.status(decoded(decodeNsStatusRequest(body)).withSnapshot));
  }

  // ---- what the nameserver's own handlers call ------------------------------------------

  /** A registry write: applied here if this node leads, else forwarded to the leader. */
  async write(write: RegistryWrite): Promise<Buffer> {
    if (this.election === undefined) return (await this.options.registry.execute(0, commandOf(write, this.options.clock.nowMs()))).response;
    if (this.election.role === 'leader') return this.lead(write);
    const leader = this.election.leader;
    if (leader === '') throw noLeader();
    const answer = await this.links.request(leader, request_codes.NS_FORWARD, encodeNsForwardRequest({ code: write.code, connectionId: write.connection_id, body: write.body }), cluster_limits.forward_timeout_ms);
    return decoded(decodeNsForwardResponse(answer)).body;
  }

  /** A registry read: from this node, or (chain, not the tail) from the tail. */
  async read(code: number, body: Buffer, local: () => Promise<Buffer>): Promise<Buffer> {
    if (this.election === undefined || this.options.mode !== 'chain') return local();
    const tail = this.election.role === 'leader' ? (this.view.chain(this.now()).at(-1) as string) : (this.follower as LogFollower).assignment.tail;
    if (tail === this.options.self) return local();
    if (tail === '') throw noLeader();
    const answer = await this.links.requestVersioned(tail, request_codes.NS_FORWARD, encodeNsForwardRequest({ code, connectionId: '', body }), cluster_limits.forward_timeout_ms);
    const read = decoded(decodeNsForwardResponse(answer.body)).body;
    // The tail wrote it in the version of this link (nameservers of two builds meet during an
    // upgrade); the caller expects this build's newest, as from its own registry.
    return code === request_codes.GET_CLUSTER_INFO ? Buffer.from(clusterInfoUpgraded(read, answer.protocol_version)) : read;
  }

  /** The periodic expiry: the leader's decision, replicated like any write. */
  async expire(): Promise<void> {
    if (this.election !== undefined && this.election.role !== 'leader') return;
    await this.options.registry.execute(this.election?.term ?? 0, { kind: 'expire', at_ms: this.options.clock.nowMs() });
  }

  /** A client connection of this node closed: the brokers that last spoke over it are gone. */
  async connectionClosed(connection_id: string): Promise<void> {
    await this.write({ code: connection_closed_code, connection_id, body: Buffer.alloc(0) });
  }

  // ---- leader ---------------------------------------------------------------------------

  private async lead(write: RegistryWrite): Promise<Buffer> {
    const election = this.election as Election;
    // The lease is also checked between beats: a leader never takes a write after it ran out.
    if (election.tick() === 'step_down') {
      election.stepDown();
      this.lostLeadership('this nameserver stopped leading (no majority answered)');
      throw noLeader();
    }
    const reply = await this.options.registry.execute(election.term, commandOf(write, this.options.clock.nowMs()));
    if (reply.logged) await this.commits.committed(reply.last_seq);
    return reply.response;
  }

  private tick(): void {
    const election = this.election as Election;
    const due = election.tick();
    if (due === 'step_down') {
      this.options.log.warn({ term: election.term }, 'namesrv leader: no majority answered within the lease; stepping down');
      election.stepDown();
      this.lostLeadership('this nameserver stopped leading (no majority answered)');
    } else if (due === 'stand') {
      this.stand();
    }
    if (election.role === 'leader') this.beat();
  }

  private stand(): void {
    const election = this.election as Election;
    const term = election.stand();
    this.options.log.info({ term, last_seq: this.position.last_seq }, 'namesrv: no leader heard; standing for election');
    if (election.role === 'leader') {
      this.becameLeader();
      return;
    }
    const request = encodeNsVoteRequest({ term, candidate: this.options.self, lastSeq: this.position.last_seq, lastTerm: this.position.last_term });
    for (const peer of this.options.peers) {
      this.links.request(peer, request_codes.NS_VOTE, request, this.options.election_timeout_ms).then(
        (bytes) => {
          if (election.onVoteResponse(peer, term, decoded(decodeNsVoteResponse(bytes)))) this.becameLeader();
        },
        () => undefined, // an unreachable peer simply casts no vote
      );
    }
  }

  private becameLeader(): void {
    const election = this.election as Election;
    this.options.log.info({ term: election.term, last_seq: this.position.last_seq }, 'namesrv: elected leader');
    this.view = this.freshView();
    this.follower?.clear();
    // The term's first entry: brokers count as heard now (none could reach a leader during
    // the election), and it carries the term into every follower's log.
    this.options.registry.execute(election.term, { kind: 'lead', at_ms: this.options.clock.nowMs(), leader: this.options.self }).catch((error: unknown) => {
      this.options.log.error({ err: error }, 'namesrv: could not log the leader entry');
    });
    this.beat();
  }

  private lostLeadership(reason: string): void {
    this.commits.abandon(reason);
    this.view = this.freshView();
  }

  private beat(): void {
    const election = this.election as Election;
    const now = this.now();
    this.view.refresh(now, this.position.last_seq);
    this.commits.setView(this.view.liveMembers(now), this.view.successor());
    const term = election.term;
    for (const peer of this.options.peers) {
      const assignment = this.view.assignmentOf(peer, now);
      const request = encodeNsBeatRequest({ term, leader: this.options.self, ...assignment, commitSeq: this.commits.commitSeq() });
      const sent_ms = this.options.clock.monotonicMs();
      this.links.request(peer, request_codes.NS_BEAT, request, this.options.election_timeout_ms).then(
        (bytes) => {
          const answer = decoded(decodeNsBeatResponse(bytes));
          const was_leader = election.role === 'leader';
          election.onBeatAnswer(peer, sent_ms, answer.term);
          if (was_leader && !this.leading()) {
            this.lostLeadership(`a nameserver answered with a newer term (${answer.term})`);
            return;
          }
          if (election.role !== 'leader' || election.term !== term) return;
          this.view.heardFrom(peer, answer.appliedSeq, this.now());
          if (this.options.mode !== 'chain') this.commits.ack(peer, answer.appliedSeq);
        },
        () => undefined, // silence: the view drops the peer after the member timeout
      );
    }
  }

  // ---- handlers -------------------------------------------------------------------------

  private onVote(request: { term: number; candidate: string; lastSeq: number; lastTerm: number }): Buffer {
    const election = this.requireCluster();
    const was_leader = election.role === 'leader';
    const answer = election.onVoteRequest(request.term, request.candidate, { last_seq: request.lastSeq, last_term: request.lastTerm }, this.position);
    if (was_leader && election.role !== 'leader') this.lostLeadership(`a candidate stood in term ${request.term}`);
    return encodeNsVoteResponse(answer);
  }

  private onBeat(request: NsBeatRequest): Buffer {
    const election = this.requireCluster();
    const was_leader = election.role === 'leader';
    if (election.onBeat(request.term, request.leader)) {
      if (was_leader) this.lostLeadership(`${request.leader} leads term ${request.term}`);
      this.follower?.assign({ upstream: request.upstream, tail: request.tail, chain: request.chain, commitSeq: request.commitSeq });
    }
    return encodeNsBeatResponse({ term: election.term, appliedSeq: this.position.last_seq });
  }

  private async onFetch(request: { term: number; follower: string; fromSeq: number; prevTerm: number; waitMs: number }): Promise<Buffer> {
    const caught_up = request.fromSeq === this.position.last_seq + 1 && request.prevTerm === this.position.last_term;
    if (caught_up) await this.fetchers.waitBeyond(this.position.last_seq, Math.min(request.waitMs, cluster_limits.fetch_wait_ms));
    return this.options.registry.query({ kind: 'read_log', from_seq: request.fromSeq, prev_term: request.prevTerm, bytes_max: cluster_limits.fetch_bytes_max });
  }

  private onAck(request: { term: number; follower: string; ackedSeq: number }): Buffer {
    const election = this.requireCluster();
    if (request.term === election.term) {
      if (election.role === 'leader') this.commits.ack(request.follower, request.ackedSeq);
      else this.follower?.onDownstreamAck(request.follower, request.ackedSeq);
    }
    return encodeNsAckResponse({});
  }

  /** `protocol_version`: the forwarding peer's link, in which a forwarded read is answered. */
  private async onForward(request: { code: number; connectionId: string; body: Buffer }, protocol_version: number): Promise<Buffer> {
    const election = this.requireCluster();
    if (isReadCode(request.code)) {
      const newest = await this.options.registry.query(readMessage(request.code, request.body));
      if (request.code !== request_codes.GET_CLUSTER_INFO) return encodeNsForwardResponse({ body: newest });
      const for_peer = clusterInfoForVersion(newest, protocol_version);
      if (!for_peer.ok) throw new MqError('INTERNAL', `the registry's cluster info does not decode: ${for_peer.error.message}`);
      return encodeNsForwardResponse({ body: Buffer.from(for_peer.value) });
    }
    if (!isWriteCode(request.code)) throw new MqError('BAD_REQUEST', `NS_FORWARD carries request code ${request.code}, which is no registry read or write`);
    // One hop only: a node that no longer leads says so, and the follower retries the leader it learns next.
    if (election.role !== 'leader') throw noLeader();
    return encodeNsForwardResponse({ body: await this.lead({ code: request.code, connection_id: request.connectionId, body: request.body }) });
  }

  private async status(with_snapshot: boolean): Promise<Buffer> {
    const snapshot = with_snapshot ? await this.options.registry.snapshot() : { seq: 0, bytes: Buffer.alloc(0) };
    const election = this.election;
    const leading = election === undefined || election.role === 'leader';
    return encodeNsStatus({
      self: this.options.self,
      role: election?.role ?? 'leader',
      mode: this.options.mode,
      term: election?.term ?? 0,
      leader: election?.leader ?? this.options.self,
      lastSeq: this.position.last_seq,
      lastTerm: this.position.last_term,
      // Alone, every logged write is committed as it is applied.
      commitSeq: election === undefined ? this.position.last_seq : leading ? this.commits.commitSeq() : (this.follower?.assignment.commitSeq ?? 0),
      chain: leading ? this.view.chain(this.now()) : (this.follower?.assignment.chain ?? []),
      snapshotsInstalled: this.follower?.snapshots_installed ?? 0,
      resumedFromSeq: this.resumed_from_seq,
      semiSyncFallbacks: this.commits.fallbacks,
      snapshotSeq: snapshot.seq,
      snapshot: snapshot.bytes,
    });
  }

  // ---- helpers --------------------------------------------------------------------------

  private requireCluster(): Election {
    if (this.election === undefined) throw new MqError('BAD_REQUEST', 'this nameserver runs alone (no --peers): it takes part in no replication');
    return this.election;
  }

  private freshView(): ReplicationView {
    return new ReplicationView(this.options.self, this.options.mode, this.options.election_timeout_ms);
  }

  private beatIntervalMs(): number {
    return Math.max(cluster_limits.beat_interval_ms_min, Math.floor(this.options.election_timeout_ms / cluster_limits.beats_per_election_timeout));
  }

  /** Read through a call, so checks after an await or a callback are not narrowed away. */
  private leading(): boolean {
    return this.election?.role === 'leader';
  }

  private now(): number {
    return this.options.clock.monotonicMs();
  }
}

function readMessage(code: number, body: Buffer) {
  switch (code) {
    case request_codes.GET_ROUTE:
      return { kind: 'get_route' as const, body };
    case request_codes.GET_CLUSTER_INFO:
      return { kind: 'get_cluster_info' as const, body };
    default:
      return { kind: 'get_topic_list' as const, body };
  }
}

/** Cluster info written in `protocol_version`, in this build's newest version. */
function clusterInfoUpgraded(bytes: Uint8Array, protocol_version: number): Uint8Array {
  const info = decodeClusterInfo(bytes, protocol_version);
  if (!info.ok) throw new MqError('INTERNAL', `cluster info forwarded by the chain's tail does not decode in protocol ${protocol_version}: ${info.error.message}`);
  return encodeClusterInfo(info.value, protocol_version_max);
}

function noLeader(): MqError {
  return new MqError('BROKER_UNAVAILABLE', 'no nameserver leads the registry right now (an election is running); retry shortly', { retriable: true });
}

function decoded<T>(result: Result<T>): T {
  if (!result.ok) throw new MqError('BAD_REQUEST', result.error.message);
  return result.value;
}
