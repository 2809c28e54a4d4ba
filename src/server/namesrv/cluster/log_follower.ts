import { asBuffer, encodeNsAckRequest, encodeNsFetchRequest, request_codes, type NsBeatRequest } from '../../../protocol/index.js';
import type { Logger } from '../../../runtime/log.js';
import type { NamesrvReplication } from '../../config.js';
import type { RegistryClient } from '../registry_client.js';
import { cluster_limits } from './cluster_limits.js';
import type { Election, LogPosition } from './election.js';
import type { PeerLinks } from './peer_links.js';

/** What the leader's last beat told this follower. */
export type FollowerAssignment = Pick<NsBeatRequest, 'upstream' | 'tail' | 'chain' | 'commitSeq'>;

export interface LogFollowerOptions {
  self: string;
  mode: NamesrvReplication;
  election: Election;
  links: PeerLinks;
  registry: RegistryClient;
  /** Where this node's log ends now (kept by the cluster from every registry change). */
  position: () => LogPosition;
  /** How long to wait while there is nothing to fetch from (no upstream, or leading). */
  idle_ms: number;
  log: Logger;
}

/**
 * The follower's side of replication: fetch entries from the upstream the leader assigned
 * (a long poll), hand them to the registry, and acknowledge. In a chain, a node with a
 * successor passes the successor's acknowledgements on instead of its own, so what reaches
 * the head says what the tail applied. Owned by the nameserver's main thread.
 */
export class LogFollower {
  assignment: FollowerAssignment = { upstream: '', tail: '', chain: [], commitSeq: 0 };
  snapshots_installed = 0;
  /** What each node that followed this one acknowledged (for it and all behind it); only the
   *  current successor's counts, so a new successor starts from 0. */
  private readonly successor_acks = new Map<string, number>();
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly options: LogFollowerOptions) {}

  start(): void {
    this.loop = this.follow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** The leader's beat: where to fetch from, the chain, the tail. */
  assign(assignment: FollowerAssignment): void {
    if (assignment.upstream !== this.assignment.upstream) {
      this.options.log.info({ term: this.options.election.term, leader: this.options.election.leader, upstream: assignment.upstream }, 'namesrv: following');
    }
    this.assignment = assignment;
  }

  /** No leader assigns anything now (this node leads, or the leader changed). */
  clear(): void {
    this.assignment = { upstream: '', tail: '', chain: [], commitSeq: 0 };
  }

  /** Chain: a node behind this one acknowledged `seq`; passed on if it is the successor. */
  onDownstreamAck(follower: string, seq: number): void {
    if (!this.hasSuccessor() || follower !== this.successor()) return;
    this.successor_acks.set(follower, Math.max(this.successor_acks.get(follower) ?? 0, seq));
    this.acknowledge();
  }

  private async follow(): Promise<void> {
    const { election, self } = this.options;
    while (!this.stopped) {
      const upstream = this.assignment.upstream;
      if (election.role === 'leader' || upstream === '' || upstream === self) {
        await sleep(this.options.idle_ms);
        continue;
      }
      const position = this.options.position();
      const request = encodeNsFetchRequest({ term: election.term, follower: self, fromSeq: position.last_seq + 1, prevTerm: position.last_term, waitMs: cluster_limits.fetch_wait_ms });
      try {
        const fetched = await this.options.links.request(upstream, request_codes.NS_FETCH, request, cluster_limits.fetch_wait_ms + cluster_limits.forward_timeout_ms);
        // A leader never takes entries from another node: it may have won while this fetch was out.
        if (this.leading() || this.stopped) continue;
        const reply = await this.options.registry.replicate(asBuffer(fetched));
        if (reply.installed_snapshot) {
          this.snapshots_installed++;
          this.options.log.info({ seq: reply.last_seq, term: reply.last_term, upstream }, 'namesrv: installed a registry snapshot from the upstream');
        }
        this.acknowledge();
      } catch (error) {
        if (!this.stopped) {
          this.options.log.debug({ err: error, upstream }, 'namesrv: fetch from the upstream failed; retrying');
          await sleep(cluster_limits.fetch_retry_ms);
        }
      }
    }
  }

  /**
   * Tells the upstream how far this node (and, in a chain, every node behind it) applied:
   * a tail or a master/slave follower reports its own position; a middle chain node reports
   * what its successor reported, as far as it holds it itself.
   */
  private acknowledge(): void {
    const upstream = this.assignment.upstream;
    if (upstream === '' || this.leading()) return;
    const own = this.options.position().last_seq;
    const acked = this.hasSuccessor() ? Math.min(this.successor_acks.get(this.successor()) ?? 0, own) : own;
    this.options.links.oneway(upstream, request_codes.NS_ACK, encodeNsAckRequest({ term: this.options.election.term, follower: this.options.self, ackedSeq: acked }));
  }

  private hasSuccessor(): boolean {
    if (this.options.mode !== 'chain') return false;
    const chain = this.assignment.chain;
    const index = chain.indexOf(this.options.self);
    return index >= 0 && index < chain.length - 1;
  }

  private successor(): string {
    const chain = this.assignment.chain;
    return chain[chain.indexOf(this.options.self) + 1] ?? '';
  }

  /** Read through a call, so checks after an await are not narrowed away. */
  private leading(): boolean {
    return this.options.election.role === 'leader';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
