import type { Socket } from 'node:net';
import {
  decodeHaHelloRequest,
  encodeErrorResponse,
  encodeFrameChunks,
  encodeHaHelloResponse,
  errorEnvelope,
  FrameDecoder,
  flag_oneway,
  ha_codes,
  ha_protocol_version,
  responseEnvelope,
  type Envelope,
} from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { replicaChunkEnd } from '../../storage/replica_chunk.js';
import type { EpochHistory } from '../../storage/epoch_history.js';
import type { SegmentSet } from '../../storage/segment_set.js';
import type { StoreControl } from '../../storage/store_control.js';
import type { StoreArgs } from '../store/store_args.js';
import type { HaAccess } from './ha_access.js';
import type { LogThrottle } from '../../runtime/log_throttle.js';
import { replicator_limits } from './replicator_limits.js';
import { ha_roles } from './replicator_messages.js';

export interface MasterSessionDeps {
  args: StoreArgs;
  control: StoreControl;
  /** The master's CommitLog, mapped read-only on this thread (shared by the sessions). */
  segments: SegmentSet;
  epochs: EpochHistory;
  /** Checks the hello's signature when the node runs with an ACL file. */
  access: HaAccess;
  /** Shared by the port's sessions: a flood of refused or dropped connections logs a line a
   *  second per reason, not one per connection. */
  log_throttle: LogThrottle;
  log: Logger;
  now_ms(): number;
  /** True while the fault probe holds the stream (replicator_actor.ts `ha_hold`). */
  held(): boolean;
  /** The slave acknowledged more: the replicated offset may move. */
  onAck(session: HaMasterSession): void;
  onClose(session: HaMasterSession): void;
}

/**
 * One slave's connection on the master's HA port: the handshake (HA_HELLO), then the
 * stream — HA_PUSH frames of CommitLog bytes straight from the mapped segments, from where
 * the slave's log ends — and the slave's HA_ACKs, which say how much of it the slave holds.
 * With access control on, the first frame must be an HA_HELLO signed by an admin account
 * (ha_access.ts), checked before anything else: whoever fails it gets ACCESS_DENIED, the
 * connection closes, and it never learns anything of the log.
 *
 * Flow control: the stream stops while the socket holds `socket_buffered_bytes_max` unsent
 * and goes on at 'drain', so a slow slave costs the master that much memory and no more.
 * Bad input (a malformed frame, an unknown code, an ack of bytes never sent) closes this
 * connection only. Owned by the replicator's thread.
 */
export class HaMasterSession {
  readonly remote: string;
  readonly remote_ip: string;
  /** `brokerName/brokerId` of the slave, once it said hello. */
  slave = '';
  slave_id = -1;
  /** What the slave holds: its log's end (-1 before the handshake). */
  acked_offset = -1;
  /** The next byte to send (-1 before the handshake). */
  private next_offset = -1;
  private readonly decoder = new FrameDecoder({ frame_bytes_max: 64 << 10 });
  private last_heard_ms: number;
  private last_sent_ms: number;
  private readonly opened_ms: number;
  private closed = false;
  /** The handshake was refused: the answer is sent and the socket ended; nothing more is read. */
  private refused = false;
  /** The account the slave's hello was signed with ('' with access control off). */
  private account = '';

  constructor(
    private readonly socket: Socket,
    private readonly deps: MasterSessionDeps,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.remote_ip = socket.remoteAddress ?? '';
    this.opened_ms = deps.now_ms();
    this.last_heard_ms = this.opened_ms;
    this.last_sent_ms = this.opened_ms;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.pump());
    socket.on('error', (error) => deps.log.debug({ remote: this.remote, err: error }, 'HA connection error'));
    socket.on('close', () => {
      this.closed = true;
      deps.onClose(this);
    });
  }

  get ready(): boolean {
    return this.next_offset >= 0 && !this.closed;
  }

  /** Sends what the log has past what was sent, until the socket is full. */
  pump(): void {
    if (!this.ready || this.deps.held()) return;
    const readable_offset = this.deps.control.load('write_offset');
    while (this.next_offset < readable_offset && this.socket.writableLength < replicator_limits.socket_buffered_bytes_max) {
      // Below the min offset a segment may still be mapped here but already released (its
      // pages read zeros: SegmentSet.retireBefore): gone all the same.
      const segment = this.next_offset < this.deps.control.load('min_offset') ? undefined : this.deps.segments.find(this.next_offset);
      if (segment === undefined) {
        this.close(`the CommitLog segment holding offset ${this.next_offset} is gone (retention); the slave must be rebuilt from a copy`);
        return;
      }
      const end = replicaChunkEnd(segment.buffer, segment.start_offset, this.next_offset, readable_offset, replicator_limits.chunk_bytes_max);
      if (end === this.next_offset) return;
      const body = segment.buffer.subarray(this.next_offset - segment.start_offset, end - segment.start_offset);
      this.write({ code: ha_codes.HA_PUSH, correlationId: this.next_offset, flags: flag_oneway, headers: {}, body });
      this.next_offset = end;
    }
  }

  /** Keep-alive and silence check, from the replicator's timer. */
  tick(): void {
    if (this.closed) return;
    const now_ms = this.deps.now_ms();
    if (this.next_offset < 0 && now_ms - this.opened_ms > replicator_limits.handshake_timeout_ms) {
      this.close(this.refused ? 'refused, and the peer kept the connection open' : 'no HA_HELLO within the handshake time');
      return;
    }
    if (now_ms - this.last_heard_ms > replicator_limits.link_silence_ms_max) {
      this.close(`the slave was silent for ${now_ms - this.last_heard_ms} ms`);
      return;
    }
    if (this.ready && !this.deps.access.stillAllowed(this.account, this.remote_ip)) {
      this.close(`account "${this.account}" may no longer replicate from ${this.remote_ip} (the ACL changed)`);
      return;
    }
    if (this.ready && now_ms - this.last_sent_ms >= replicator_limits.keepalive_interval_ms && this.socket.writableLength === 0) {
      this.write({ code: ha_codes.HA_PUSH, correlationId: this.next_offset, flags: flag_oneway, headers: {}, body: new Uint8Array(0) });
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    if (this.deps.log_throttle.allow(`closed|${reason.slice(0, 40)}`)) this.deps.log.warn({ remote: this.remote, slave: this.slave, reason }, 'HA connection closed');
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.last_heard_ms = this.deps.now_ms();
    if (this.refused) return;
    for (const result of this.decoder.push(chunk)) {
      // Frames sent behind a refused hello (in the same chunk) are not looked at.
      if (this.closed || this.refused) return;
      if (!result.ok) {
        this.close(`malformed frame: ${result.error.message}`);
        return;
      }
      this.onFrame(result.envelope);
    }
  }

  private onFrame(frame: Envelope): void {
    if (this.next_offset < 0) {
      this.handshake(frame);
      return;
    }
    if (frame.code !== ha_codes.HA_ACK) {
      this.close(`unexpected frame code ${frame.code} after the handshake`);
      return;
    }
    const offset = frame.correlationId;
    if (offset < this.acked_offset || offset > this.next_offset) {
      this.close(`the slave acknowledged ${offset}, outside what it held (${this.acked_offset}) and what was sent (${this.next_offset})`);
      return;
    }
    if (offset > this.acked_offset) {
      this.acked_offset = offset;
      this.deps.onAck(this);
    }
  }

  private handshake(frame: Envelope): void {
    // First of all, so that nobody unauthenticated learns even what the port expects.
    const verdict = this.deps.access.checkHello(frame, this.remote_ip);
    if (!verdict.ok) {
      this.refuse(frame, verdict.error, verdict.account);
      return;
    }
    this.account = verdict.account;
    if (frame.code !== ha_codes.HA_HELLO) {
      this.refuse(frame, new MqError('BAD_REQUEST', 'the first frame on the HA port must be HA_HELLO'));
      return;
    }
    const decoded = decodeHaHelloRequest(frame.body);
    if (!decoded.ok) {
      this.refuse(frame, new MqError('BAD_REQUEST', `HA_HELLO body: ${decoded.error.message}`));
      return;
    }
    const hello = decoded.value;
    const { control } = this.deps;
    this.slave = `${hello.brokerName}/${hello.brokerId}`;
    this.slave_id = hello.brokerId;
    const refusal = this.refusalOf(hello);
    if (refusal !== undefined) {
      this.refuse(frame, refusal);
      return;
    }
    // A slave holding bytes this master does not (a returning old master: past where its
    // last epoch ended here) must cut its log to here first.
    const master_offset = control.load('write_offset');
    const start_offset = Math.min(hello.maxOffset, this.deps.epochs.truncationPoint(hello.epoch, master_offset));
    if (start_offset < control.load('min_offset')) {
      this.refuse(frame, new MqError('BAD_REQUEST', `the slave's log ends at ${start_offset}, before the oldest byte this master keeps (${control.load('min_offset')}); rebuild the slave from a copy of the master's data directory`));
      return;
    }
    const epochs = this.deps.epochs.list.map((entry) => ({ epoch: entry.epoch, startOffset: entry.start_offset }));
    this.write(responseEnvelope(frame, encodeHaHelloResponse({ epoch: this.deps.epochs.last_epoch, epochs, startOffset: start_offset, masterOffset: master_offset })));
    this.next_offset = start_offset;
    this.acked_offset = start_offset;
    this.deps.log.info({ remote: this.remote, slave: this.slave, start_offset, master_offset }, 'slave connected');
    this.deps.onAck(this);
    this.pump();
  }

  private refusalOf(hello: { version: number; cluster: string; brokerName: string; brokerId: number; epoch: number; segmentBytes: number }): MqError | undefined {
    const { args, control } = this.deps;
    if (hello.version !== ha_protocol_version) return new MqError('BAD_REQUEST', `HA protocol version ${hello.version}; this master speaks ${ha_protocol_version}`);
    if (hello.cluster !== args.cluster || hello.brokerName !== args.broker_name) {
      return new MqError('BAD_REQUEST', `this is the master of ${args.cluster}/${args.broker_name}, not of ${hello.cluster}/${hello.brokerName}`);
    }
    if (hello.brokerId === args.broker_id) return new MqError('BAD_REQUEST', `broker id ${hello.brokerId} is this master's own; give the slave another --broker-id`);
    if (hello.segmentBytes !== args.commit_log_segment_bytes) {
      return new MqError('BAD_REQUEST', `the slave's CommitLog segments are ${hello.segmentBytes} bytes, the master's ${args.commit_log_segment_bytes}; a replica is a byte-for-byte copy, so they must match`);
    }
    if (control.load('ha_role') !== ha_roles.master) return new MqError('NOT_MASTER', `broker ${args.broker_name}/${args.broker_id} is not a master now`);
    if (hello.epoch > this.deps.epochs.last_epoch) {
      return new MqError('NOT_MASTER', `the slave knows master epoch ${hello.epoch}, this master only ${this.deps.epochs.last_epoch}: a failover replaced it`);
    }
    return undefined;
  }

  /** `account`: the access key the hello was signed with, for the log ('' when not signed). */
  private refuse(frame: Envelope, error: MqError, account = ''): void {
    this.write(errorEnvelope(frame, encodeErrorResponse({ code: error.code, message: error.message, retriable: error.retriable })));
    this.refused = true;
    // Closed once the answer is out, not when the peer closes: a refused socket must not
    // keep its place on the port (slaves_max) until the handshake deadline.
    this.socket.end(() => this.socket.destroy());
    if (this.deps.log_throttle.allow(`refused|${error.message.slice(0, 40)}`)) {
      this.deps.log.warn({ remote: this.remote, slave: this.slave, account, code: error.code, reason: error.message }, 'HA handshake refused');
    }
  }

  private write(envelope: Envelope): void {
    if (this.closed) return;
    // Head and body as two writes: the body is a view of the mapped segment, not copied.
    const [head, body] = encodeFrameChunks(envelope, { frame_bytes_max: replicator_limits.frame_bytes_max });
    this.socket.write(head);
    if (body.length > 0) this.socket.write(body);
    this.last_sent_ms = this.deps.now_ms();
  }
}
