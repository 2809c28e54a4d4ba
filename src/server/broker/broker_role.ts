import { decodeClusterInfo, encodeGetClusterInfoRequest, request_codes, type MasterView, type ReplicationReport } from '../../protocol/index.js';
import type { Store } from '../../actors/store/store.js';
import { ClientConnection } from '../../client/remoting/client_connection.js';
import type { TlsDialOptions } from '../../tls/tls_dial.js';
import type { Credentials } from '../../client/remoting/request_signer.js';
import type { Logger } from '../../runtime/log.js';
import { store_control } from '../../storage/store_control.js';
import type { SlaveSync } from './slave_sync.js';
import { broker_id_max } from '../../actors/registry/registry_validation.js';

export const broker_role_limits = {
  /** How often the replicator's state is read (in-sync slaves, a cut the log needs, the link). */
  poll_interval_ms: 250,
  /** A slave without a link to its master heartbeats the nameservers this often, so that it
   *  learns of a promotion (its own, or another's) within about this long. */
  masterless_beat_interval_ms: 500,
  request_timeout_ms: 3_000,
} as const;

export interface BrokerRoleDeps {
  store: Store;
  /** The broker id it was started with (0: the group's master, unless a failover says otherwise). */
  configured_id: number;
  broker_name: string;
  namesrv_addresses: () => readonly string[];
  slave_sync: SlaveSync;
  log: Logger;
  /** Register again now (the id or the role changed). */
  registerNow(): void;
  /** A heartbeat round now. */
  beatNow(): void;
  /** Promoted: whatever the broker adds to its state as a master (topics of its log). */
  onPromoted(): void;
  /** The node's TLS for dialling nameservers (tls/node_tls.ts); absent: plain TCP. */
  tls?: TlsDialOptions;
  /** The node's account (access control): its requests are signed with it. */
  credentials?: Credentials | undefined;
}

type Role = 'starting' | 'master' | 'slave';

/**
 * Whether this broker is its group's master, decided by the nameservers (the failover
 * controller lives in their registry, route_registry.ts) and carried out here:
 *
 * - every broker starts taking no writes (store control `ha_role` slave) until a nameserver
 *   answers its registration: `master: true` promotes it at the answer's epoch (the log
 *   begins that epoch, the timing wheel and transaction actor start); a slave follows the
 *   master the answer names, over the HA port, and copies its topics and offsets. A broker
 *   started as the master (id 0) that no nameserver answers at all leads at epoch 0 if its
 *   log never saw a failover (nameservers are only its directory then, as in RocketMQ
 *   without a controller); the first refusal still fences it;
 * - a broker that becomes the master by registering is given a new epoch by the registry
 *   unless it is the master registered already: it may only have followed its last one;
 * - a slave the registry promotes after its master died registers again as id 0 with the new
 *   epoch, which fences the old master;
 * - a broker whose registration as master is refused (NOT_MASTER: it was the master of an
 *   older epoch) steps down, takes a free slave id and follows the new master, cutting from
 *   its log what it wrote after its epoch ended in the new master's history.
 *
 * Transitions run one at a time, in order. Owned by the broker's main thread.
 */
export class BrokerRole {
  private role: Role = 'starting';
  private routing_id: number;
  private led_epoch = -1;
  private known_epoch = 0;
  private following = { address: '', ha_address: '' };
  private transitions: Promise<void> = Promise.resolve();
  /** From the replicator's last status: the slaves in sync (a master), whether the link is up (a slave). */
  private in_sync_slaves: number[] = [];
  private connected = false;
  private truncating = false;
  private answered = false;
  private last_masterless_beat_ms = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly control;

  constructor(private readonly deps: BrokerRoleDeps) {
    this.routing_id = deps.configured_id;
    this.control = store_control.attach(deps.store.args.control);
  }

  /** The id this broker registers under now: 0 as the master. */
  get broker_id(): number {
    return this.routing_id;
  }

  /** The master epoch to register with: the one it leads, or the last it knows. */
  get epoch(): number {
    return Math.max(this.led_epoch, this.known_epoch);
  }

  get replication(): ReplicationReport {
    return { maxOffset: this.control.load('write_offset'), inSyncSlaves: this.role === 'master' ? this.in_sync_slaves : [] };
  }

  /** Learns the log's last epoch (what to register with) and starts watching the replicator. */
  async start(): Promise<void> {
    this.known_epoch = (await this.deps.store.replicator.ask({ kind: 'status' })).epoch;
    this.timer = setInterval(() => void this.poll(), broker_role_limits.poll_interval_ms);
  }

  /**
   * After the first round of registrations: a master no nameserver answered leads on its own,
   * at epoch 0 only. A log whose last epoch is newer saw a failover, and its broker may have
   * only followed that epoch: leading it again, another broker's tail and this one's would
   * share one epoch, and no cut would part them. Only a nameserver can give it a new epoch.
   */
  async firstRoundDone(): Promise<void> {
    if (!this.answered && this.deps.configured_id === 0 && this.role === 'starting') {
      if (this.known_epoch === 0) {
        this.deps.log.warn('no nameserver answered: leading as the configured master at epoch 0; a nameserver that knows a newer epoch will fence it');
        this.enqueue(() => this.lead(0));
      } else {
        this.deps.log.warn({ epoch: this.known_epoch }, 'no nameserver answered: not leading until one does (this log has seen a failover, so a nameserver decides who leads, at a new epoch)');
      }
    }
    await this.transitions;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.transitions;
  }

  /** A nameserver's answer to a registration or heartbeat. */
  onAnswer(view: MasterView): void {
    this.answered = true;
    this.known_epoch = Math.max(this.known_epoch, view.epoch);
    this.enqueue(async () => {
      if (view.master) await this.lead(view.epoch);
      else if (this.role !== 'master') await this.follow(view.masterAddress ?? '', view.masterHaAddress ?? '');
    });
  }

  /** A nameserver refused this broker as master: another one leads a newer epoch. */
  onFenced(reason: string): void {
    this.answered = true;
    this.enqueue(async () => {
      if (this.routing_id !== 0) return;
      this.deps.log.warn({ reason }, 'fenced as master by a newer epoch: rejoining as a slave');
      if (this.role === 'master') await this.deps.store.demote('', this.routing_id);
      this.role = 'slave';
      this.routing_id = await this.freeSlaveId();
      // Its HA hello names this id from now on: a master's in-sync list is in the ids the
      // nameserver knows the slaves by, and a failover promotes only slaves on that list.
      await this.deps.store.replicator.ask({ kind: 'follow', master: this.following.ha_address, slave_id: this.routing_id });
      this.deps.registerNow();
    });
  }

  private enqueue(step: () => Promise<void>): void {
    this.transitions = this.transitions.then(step).catch((error: unknown) => this.deps.log.error({ err: error }, 'role change failed; the next nameserver answer tries again'));
  }

  private async lead(epoch: number): Promise<void> {
    if (this.role !== 'master' || epoch > this.led_epoch) {
      await this.deps.store.promote(epoch);
      this.deps.slave_sync.follow('');
      this.following = { address: '', ha_address: '' };
      if (this.role === 'slave') this.deps.log.warn({ epoch }, 'promoted to master');
      this.role = 'master';
      this.led_epoch = epoch;
      this.deps.onPromoted();
    }
    if (this.routing_id !== 0) {
      this.routing_id = 0;
      this.deps.registerNow();
    }
  }

  private async follow(address: string, ha_address: string): Promise<void> {
    this.role = 'slave';
    if (address === this.following.address && ha_address === this.following.ha_address) return;
    this.following = { address, ha_address };
    await this.deps.store.replicator.ask({ kind: 'follow', master: ha_address, slave_id: this.routing_id });
    this.deps.slave_sync.follow(address);
  }

  /** Reads the replicator's state; cuts the log when the master asks; beats often while masterless. */
  private async poll(): Promise<void> {
    let status;
    try {
      status = await this.deps.store.replicator.ask({ kind: 'status' });
    } catch {
      return;
    }
    this.in_sync_slaves = status.in_sync_slaves;
    this.connected = status.connected;
    if (status.truncate_to >= 0 && !this.truncating) {
      this.truncating = true;
      this.enqueue(async () => {
        try {
          await this.deps.store.truncateTo(status.truncate_to);
          await this.deps.store.replicator.ask({ kind: 'truncated' });
        } finally {
          this.truncating = false;
        }
      });
    }
    const now_ms = performance.now();
    if (this.role !== 'master' && !this.connected && now_ms - this.last_masterless_beat_ms >= broker_role_limits.masterless_beat_interval_ms) {
      this.last_masterless_beat_ms = now_ms;
      this.deps.beatNow();
    }
  }

  /**
   * A slave id for a configured master that steps down: the highest no member of this group
   * uses, by a nameserver's cluster view. From the top of the range, not the bottom: a
   * configured slave that is the master now (id 0) comes back under its own low id after a
   * restart, and two brokers under one id would replace each other at every registration,
   * both slaves, with no master for the group.
   */
  private async freeSlaveId(): Promise<number> {
    if (this.deps.configured_id !== 0) return this.deps.configured_id;
    for (const address of this.deps.namesrv_addresses()) {
      let connection: ClientConnection | undefined;
      try {
        connection = await ClientConnection.connect(address, { client_id: `${this.deps.broker_name}-rejoin`, kind: 'BROKER', tls: this.deps.tls, credentials: this.deps.credentials });
        const answer = await connection.requestVersioned(request_codes.GET_CLUSTER_INFO, encodeGetClusterInfoRequest({}), { timeout_ms: broker_role_limits.request_timeout_ms });
        const info = decodeClusterInfo(answer.body, answer.protocol_version);
        if (!info.ok) continue;
        const taken = new Set(info.value.groups.find((group) => group.brokerName === this.deps.broker_name)?.members.map((member) => member.brokerId) ?? []);
        let id = broker_id_max;
        while (taken.has(id) && id > 1) id--;
        return id;
      } catch {
        // Ask the next nameserver.
      } finally {
        connection?.close();
      }
    }
    return broker_id_max;
  }
}
