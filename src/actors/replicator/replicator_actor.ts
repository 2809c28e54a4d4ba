import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { defineActor, deferReply, type ActorContext } from '../../runtime/actor.js';
import type { ActorRef } from '../../runtime/actor_ref.js';
import { MqError } from '../../runtime/errors.js';
import { SegmentSet } from '../../storage/segment_set.js';
import { replication_lag_histogram } from '../../storage/shared_histogram.js';
import { store_control, type StoreControl } from '../../storage/store_control.js';
import { EpochHistory } from '../../storage/epoch_history.js';
import { commitLogDirs, configDir, epochHistoryPath } from '../../storage/storage_paths.js';
import { commit_log_address, commit_log_protocol, type CommitLogMessage, type CommitLogReply } from '../commit_log/commit_log_messages.js';
import type { StoreArgs } from '../store/store_args.js';
import { LogThrottle } from '../../runtime/log_throttle.js';
import { HaAccess } from './ha_access.js';
import { HaMasterSession } from './ha_master_session.js';
import { HaSlaveLink } from './ha_slave_link.js';
import { replicator_limits } from './replicator_limits.js';
import { ha_roles, replicator_protocol, type ReplicatorMessage, type ReplicatorStatus } from './replicator_messages.js';
import { nodeServerOptions } from '../../tls/node_tls.js';
import { createFrameListener } from '../../tls/tls_listener.js';

/**
 * The replicator: the HA side of a broker's store, on the CommitLog writer's thread.
 *
 * As a master it owns the HA port: each slave that connects gets a session that streams the
 * CommitLog to it from where its log ends (ha_master_session.ts). From the slaves'
 * acknowledgements it publishes, in store control, how many slaves are in sync and the
 * offset that `replication_acks` of them hold, and tells the writer (`replicated`), whose
 * sync-replication acknowledgements wait for it. It wakes on appends through an
 * Atomics.waitAsync on the writer's `write_seq`, not by polling.
 *
 * As a slave it follows the master the broker names (`follow`, from the nameserver's answer
 * to its registration): one link at a time (ha_slave_link.ts), made again with a doubling
 * delay whenever it drops.
 *
 * Socket callbacks run on this thread between messages; they only touch this actor's own
 * state, so no message and no callback ever sees another half done.
 *
 * With the node's TLS (`args.ha_tls`, PEM text cloned into this worker) the HA port runs
 * TLS — requiring client certificates when the node has a CA — and the slave link dials
 * with it; a TLS context is built here, as Node's TLS objects cannot cross threads.
 *
 * With the node's ACL file (`args.ha_access`) a master takes only HA_HELLOs signed by an
 * admin account of it, and a slave signs its hello with the node's account (ha_access.ts,
 * which opens and watches the file on this thread).
 *
 * Fault probe (Redpanda style): while a file named `ha_hold` exists in the data directory,
 * a master sends its slaves nothing but keep-alives — a partition of the HA link, for tests
 * and drills, without touching the network. Checked on the timer, not per append.
 */
class ReplicatorActor {
  private readonly control: StoreControl;
  /** Observes how many bytes behind the log's end an acknowledgement left the slaves. */
  private readonly observeLag: (bytes: number) => void;
  private readonly commit_log: ActorRef<CommitLogMessage, CommitLogReply>;
  private readonly self;
  private server: net.Server | undefined;
  private ha_port = 0;
  private readonly sessions = new Set<HaMasterSession>();
  private segments: SegmentSet | undefined;
  private watching = false;
  private follow_address = '';
  /** The broker id this slave's hello names (follow's `slave_id`; --broker-id until told). */
  private slave_id: number;
  private link: HaSlaveLink | undefined;
  private reconnect_delay_ms: number = replicator_limits.reconnect_delay_ms_min;
  private reconnect_at_ms = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly epochs: EpochHistory;
  /** Set by a slave link whose master streams from below this log's end (-1: none). */
  private truncate_to = -1;
  private held = false;
  private readonly hold_path: string;
  private readonly access: HaAccess;
  private readonly log_throttle: LogThrottle;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs,
  ) {
    this.control = store_control.attach(args.control);
    this.slave_id = args.broker_id;
    this.observeLag = replication_lag_histogram.recorder(args.replication_lag);
    this.commit_log = context.actorOf(commit_log_address, commit_log_protocol);
    this.self = context.actorOf(context.address, replicator_protocol);
    fs.mkdirSync(configDir(args.data_dir), { recursive: true });
    this.epochs = new EpochHistory(epochHistoryPath(args.data_dir), context.log).load();
    this.hold_path = path.join(args.data_dir, 'ha_hold');
    this.access = HaAccess.open(args, context.log, context.clock);
    this.log_throttle = new LogThrottle({ interval_ms: replicator_limits.log_interval_ms, keys_max: replicator_limits.log_keys_max, clock: context.clock });
    this.control.store('ha_stream_floor', Number.MAX_SAFE_INTEGER);
  }

  start(): void {
    this.timer = setInterval(() => this.self.tell({ kind: 'tick' }), replicator_limits.tick_ms);
  }

  receive(message: ReplicatorMessage): ReplicatorStatus {
    switch (message.kind) {
      case 'listen':
        return deferReply(this.listen(message.host, message.port).then(() => this.status()));
      case 'follow':
        this.follow(message.master, message.slave_id);
        return this.status();
      case 'lead':
        this.lead(message.epoch);
        return this.status();
      case 'truncated':
        this.truncate_to = -1;
        this.reconnect_at_ms = 0;
        this.connectIfDue();
        return this.status();
      case 'tick':
        this.tick();
        return this.status();
      case 'status':
        return this.status();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.link?.close('the broker is stopping');
    for (const session of this.sessions) session.close('the master is stopping');
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
    this.segments?.close();
    this.access.close();
  }

  inspect(): Record<string, unknown> {
    return { ...this.status(), sessions: [...this.sessions].map((session) => ({ slave: session.slave, remote: session.remote, acked_offset: session.acked_offset })) };
  }

  private get role(): 'master' | 'slave' {
    return this.control.load('ha_role') === ha_roles.slave ? 'slave' : 'master';
  }

  private status(): ReplicatorStatus {
    const ready = [...this.sessions].filter((session) => session.ready);
    return {
      epoch: this.epochs.last_epoch,
      in_sync_slaves: this.inSync().map((session) => session.slave_id),
      truncate_to: this.truncate_to,
      role: this.role,
      ha_port: this.ha_port,
      slaves: ready.length,
      slaves_in_sync: this.control.load('replicas_in_sync'),
      replicated_offset: this.control.load('replicated_offset'),
      following: this.follow_address,
      connected: this.link?.connected === true,
      write_offset: this.control.load('write_offset'),
    };
  }

  /** Opens the HA port; slaves may connect from then on (a slave's port refuses them). */
  private async listen(host: string, port: number): Promise<void> {
    if (this.server !== undefined) throw new MqError('BAD_REQUEST', `the HA port is open already (${this.ha_port})`);
    const ha_tls = this.args.ha_tls;
    const server = createFrameListener(
      { tls: ha_tls === null ? undefined : nodeServerOptions(ha_tls), handshake_timeout_ms: replicator_limits.handshake_timeout_ms, log: this.context.log, listener: 'ha' },
      (socket) => this.accept(socket),
    );
    server.maxConnections = replicator_limits.slaves_max + replicator_limits.handshakes_max;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.context.log.error({ err: error }, 'HA port error'));
    this.server = server;
    const address = server.address();
    this.ha_port = typeof address === 'object' && address !== null ? address.port : port;
  }

  private accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '';
    let handshaking = 0;
    for (const session of this.sessions) if (!session.ready && session.remote_ip === address) handshaking++;
    if (handshaking >= replicator_limits.handshakes_per_address_max) {
      if (this.log_throttle.allow(`handshakes|${address}`)) this.context.log.warn({ remote: address, handshaking }, 'HA connection closed at once: that address has handshakes open already');
      socket.destroy();
      return;
    }
    this.segments ??= new SegmentSet(commitLogDirs(this.args), this.args.commit_log_segment_bytes, 'read-only').load();
    const session = new HaMasterSession(socket, {
      args: this.args,
      control: this.control,
      segments: this.segments,
      epochs: this.epochs,
      access: this.access,
      log_throttle: this.log_throttle,
      log: this.context.log,
      now_ms: () => this.context.clock.monotonicMs(),
      held: () => this.held,
      onAck: () => this.publishReplicated(),
      onClose: (closed) => {
        this.sessions.delete(closed);
        this.publishReplicated();
      },
    });
    this.sessions.add(session);
    this.watchAppends();
  }

  /**
   * The replicated offset: the `replication_acks`-th highest acknowledgement among the
   * slaves in sync (within `in_sync_gap_bytes` of this log's end). It only grows while the
   * same slaves stay; a slave that leaves can lower the count, never an acknowledged byte.
   */
  private publishReplicated(): void {
    this.publishStreamFloor();
    const acked = this.inSync().map((session) => session.acked_offset).sort((a, b) => b - a);
    this.control.store('replicas_in_sync', acked.length);
    const offset = acked[this.args.replication_acks - 1];
    if (offset === undefined || offset <= this.control.load('replicated_offset')) return;
    this.control.store('replicated_offset', offset);
    // Under sync replication consumers see only replicated messages (StoreReader): held
    // pulls wait on the dispatch counter, so a move of the replicated end wakes them too.
    if (this.args.replication_mode === 'sync') {
      this.control.add('dispatch_seq', 1);
      this.control.notify('dispatch_seq');
    }
    this.observeLag(Math.max(0, this.control.load('write_offset') - offset));
    this.commit_log.tell({ kind: 'replicated', offset });
  }

  /**
   * Store control `ha_aligned`: set once this slave's link to its master streams (the
   * handshake found its log a prefix of the master's), and kept when the link drops later —
   * the log is still that prefix; follow() clears it. Held pulls wake when it is set.
   */
  private publishAligned(): void {
    if (this.role === 'master' || this.link?.connected !== true || this.control.load('ha_aligned') === 1) return;
    this.control.store('ha_aligned', 1);
    this.control.add('dispatch_seq', 1);
    this.control.notify('dispatch_seq');
  }

  /** The lowest byte any slave's stream may still have queued: what it acknowledged. */
  private publishStreamFloor(): void {
    let floor = Number.MAX_SAFE_INTEGER;
    for (const session of this.sessions) if (session.ready) floor = Math.min(floor, session.acked_offset);
    this.control.store('ha_stream_floor', floor);
  }

  /** Slaves connected within `in_sync_gap_bytes` of this log's end (none while a slave). */
  private inSync(): HaMasterSession[] {
    if (this.role !== 'master') return [];
    const write_offset = this.control.load('write_offset');
    return [...this.sessions].filter((session) => session.ready && write_offset - session.acked_offset <= replicator_limits.in_sync_gap_bytes);
  }

  /**
   * Master from now on: stops following, takes appends (store control `ha_role`), and
   * begins `epoch` at this log's end when it is newer than the log's last. The appends a
   * slave link had in flight are all in: the link is closed first and the writer handles
   * its mailbox in order, so the epoch's start is read after the last of them.
   */
  private lead(epoch: number): void {
    this.follow_address = '';
    this.link?.close(`promoted to master at epoch ${epoch}`);
    this.link = undefined;
    this.truncate_to = -1;
    const last_epoch = this.epochs.last_epoch;
    this.epochs.begin(epoch, this.control.load('write_offset'));
    // A master given a newer epoch (it registered anew: actors/registry/route_registry.ts): its
    // slaves hold the old history, and one that reconnected later, past this start, would be
    // told its epoch ended here and cut bytes it rightly holds. Closed now, before a byte of
    // the new epoch goes out, they reconnect at or below the start and take the new history.
    if (this.role === 'master' && epoch > last_epoch) for (const session of this.sessions) session.close(`a new master epoch ${epoch} begins; reconnect for the new epoch history`);
    this.control.store('replicated_offset', this.control.load('write_offset'));
    this.control.store('ha_role', ha_roles.master);
    this.context.log.info({ epoch, start_offset: this.control.load('write_offset') }, 'leading as master');
  }

  /** One Atomics.waitAsync on the writer's append counter while slaves are connected. */
  private watchAppends(): void {
    if (this.watching || this.stopped) return;
    this.watching = true;
    const loop = (): void => {
      if (this.stopped || this.sessions.size === 0) {
        this.watching = false;
        return;
      }
      const seen = this.control.load('write_seq');
      for (const session of this.sessions) session.pump();
      void this.control.waitAsync('write_seq', seen, replicator_limits.write_wait_ms).then(loop);
    };
    loop();
  }

  /** Slave from now on (a master that is told to follow steps down: no appends, no slaves). */
  private follow(master: string, slave_id: number): void {
    // A master stepping down, or a new master to follow: whatever this log holds past the
    // last replicated end may be cut once the master says where the logs part, so it is not
    // served until the link streams (StoreReader).
    if (this.role === 'master' || master !== this.follow_address) this.control.store('ha_aligned', 0);
    if (this.role === 'master') {
      this.control.store('ha_role', ha_roles.slave);
      this.control.store('replicas_in_sync', 0);
      for (const session of this.sessions) session.close('this broker is a slave now');
      this.context.log.warn({ master }, 'stepping down to slave');
    }
    if (master === this.follow_address && slave_id === this.slave_id) return;
    const new_id = slave_id !== this.slave_id;
    this.follow_address = master;
    this.slave_id = slave_id;
    this.link?.close(master === '' ? 'told to stop following' : new_id ? `following as broker id ${slave_id} now` : `told to follow ${master} instead`);
    this.link = undefined;
    this.reconnect_delay_ms = replicator_limits.reconnect_delay_ms_min;
    this.reconnect_at_ms = 0;
    this.connectIfDue();
  }

  private tick(): void {
    const was_held = this.held;
    this.held = this.sessions.size > 0 && fs.existsSync(this.hold_path);
    if (this.held !== was_held) this.context.log.warn({ held: this.held }, this.held ? 'HA stream held by the fault probe (ha_hold)' : 'HA stream released');
    for (const session of this.sessions) {
      session.tick();
      if (!this.held) session.pump();
    }
    this.link?.tick();
    this.publishAligned();
    this.connectIfDue();
    if (this.sessions.size > 0) this.publishReplicated();
  }

  private connectIfDue(): void {
    if (this.stopped || this.follow_address === '' || this.link !== undefined) return;
    if (this.context.clock.monotonicMs() < this.reconnect_at_ms) return;
    if (this.truncate_to >= 0) return; // the broker cuts the log first (status.truncate_to)
    this.link = new HaSlaveLink(this.follow_address, {
      args: this.args,
      slave_id: this.slave_id,
      control: this.control,
      epochs: this.epochs,
      access: this.access,
      onTruncationNeeded: (offset) => {
        this.truncate_to = offset;
      },
      log: this.context.log,
      now_ms: () => this.context.clock.monotonicMs(),
      appendReplica: async (offset, bytes) => (await this.commit_log.ask({ kind: 'append_replica', offset, bytes }, { timeout_ms: this.args.flush_timeout_ms * 2 })).write_offset,
      onClose: (link, reason) => {
        if (this.link !== link) return;
        this.link = undefined;
        if (this.stopped) return;
        // A link that streamed before starts over fast; one that never got through backs off.
        if (link.handshaken) this.reconnect_delay_ms = replicator_limits.reconnect_delay_ms_min;
        this.context.log.warn({ master: link.master, reason, retry_ms: this.reconnect_delay_ms }, 'replication link down; reconnecting');
        this.reconnect_at_ms = this.context.clock.monotonicMs() + this.reconnect_delay_ms;
        this.reconnect_delay_ms = Math.min(replicator_limits.reconnect_delay_ms_max, this.reconnect_delay_ms * 2);
      },
    });
  }
}

export const actor = defineActor<ReplicatorMessage, ReplicatorStatus, StoreArgs>({
  name: 'replicator',
  protocol: replicator_protocol,
  create: (context, args) => new ReplicatorActor(context, args),
});
