import type net from 'node:net';
import {
  decodeErrorResponse,
  decodeHaHelloResponse,
  encodeFrameChunks,
  encodeHaHelloRequest,
  flag_error,
  flag_oneway,
  flag_response,
  FrameDecoder,
  ha_codes,
  ha_protocol_version,
  requestEnvelope,
  type Envelope,
} from '../../protocol/index.js';
import type { Logger } from '../../runtime/log.js';
import type { EpochHistory } from '../../storage/epoch_history.js';
import type { StoreControl } from '../../storage/store_control.js';
import type { StoreArgs } from '../store/store_args.js';
import type { HaAccess } from './ha_access.js';
import { replicator_limits } from './replicator_limits.js';
import { nodeDialOptions } from '../../tls/node_tls.js';
import { describeDialError, dialSocket } from '../../tls/tls_dial.js';

export interface SlaveLinkDeps {
  args: StoreArgs;
  /** The broker id the hello names: the one this broker registers under as a slave. */
  slave_id: number;
  control: StoreControl;
  /** This log's epoch history: its last epoch goes in the hello; the master's replaces it. */
  epochs: EpochHistory;
  /** Signs the hello with the node's account (when it has one). */
  access: HaAccess;
  /** The master streams from below this log's end: it must be cut to `offset` first. */
  onTruncationNeeded(offset: number): void;
  log: Logger;
  now_ms(): number;
  /** Appends the master's bytes at `offset` (this log's end); resolves with the new end. */
  appendReplica(offset: number, bytes: Buffer): Promise<number>;
  onClose(link: HaSlaveLink, reason: string): void;
}

/**
 * A slave's connection to its master's HA port: says hello with where its log ends, then
 * appends every HA_PUSH chunk, in order, through its CommitLog writer, and acknowledges
 * what it holds (HA_ACK) after each append and as a keep-alive.
 *
 * Appends are chained, one at a time, so the log grows in stream order; while more than
 * `slave_pending_bytes_max` received bytes wait for the writer the socket is paused, so a
 * slow disk slows the master's stream instead of filling this process's memory. Anything
 * unexpected — a chunk at another offset than the log's end, a malformed frame, a refused
 * handshake, a failed append — closes the link; the replicator makes a new one, which
 * starts again from the log's end. Owned by the replicator's thread.
 */
export class HaSlaveLink {
  /** Where the next chunk must start (-1 before the handshake). */
  private expected_offset = -1;
  /** What the writer has appended: the offset acknowledged to the master. */
  private appended_offset = -1;
  private pending_bytes = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly decoder = new FrameDecoder({ frame_bytes_max: replicator_limits.frame_bytes_max });
  private readonly socket: net.Socket;
  private readonly opened_ms: number;
  private last_heard_ms: number;
  private last_acked_ms = 0;
  private closed = false;
  private close_reason = '';
  /** Whether the handshake ever completed (the replicator resets its reconnect delay then). */
  handshaken = false;

  constructor(
    readonly master: string,
    private readonly deps: SlaveLinkDeps,
  ) {
    const separator = master.lastIndexOf(':');
    this.opened_ms = deps.now_ms();
    this.last_heard_ms = this.opened_ms;
    // Over TLS (the node's, args.ha_tls) the hello waits for the TLS handshake; the
    // handshake deadline in tick() covers both.
    const ha_tls = deps.args.ha_tls;
    const dialed = dialSocket(master.slice(0, separator), Number(master.slice(separator + 1)), ha_tls === null ? undefined : nodeDialOptions(ha_tls));
    this.socket = dialed.socket;
    this.socket.setNoDelay(true);
    this.socket.on(dialed.ready_event, () => this.hello());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => {
      this.close_reason ||= describeDialError(error, ha_tls !== null);
    });
    this.socket.on('close', () => {
      this.closed = true;
      deps.onClose(this, this.close_reason || 'the master closed the connection');
    });
  }

  /** Whether the handshake is done and the link streams. */
  get connected(): boolean {
    return this.expected_offset >= 0 && !this.closed;
  }

  /** Keep-alive ack and silence check, from the replicator's timer. */
  tick(): void {
    if (this.closed) return;
    const now_ms = this.deps.now_ms();
    if (this.expected_offset < 0 && now_ms - this.opened_ms > replicator_limits.handshake_timeout_ms) {
      this.close(`no handshake with ${this.master} within ${replicator_limits.handshake_timeout_ms} ms`);
      return;
    }
    if (now_ms - this.last_heard_ms > replicator_limits.link_silence_ms_max) {
      this.close(`the master was silent for ${now_ms - this.last_heard_ms} ms`);
      return;
    }
    if (this.connected && now_ms - this.last_acked_ms >= replicator_limits.keepalive_interval_ms) this.ack();
  }

  close(reason: string): void {
    if (this.closed) return;
    this.close_reason ||= reason;
    this.socket.destroy();
  }

  private hello(): void {
    const { args, control } = this.deps;
    const body = encodeHaHelloRequest({
      version: ha_protocol_version,
      cluster: args.cluster,
      brokerName: args.broker_name,
      brokerId: this.deps.slave_id,
      epoch: this.deps.epochs.last_epoch,
      maxOffset: control.load('write_offset'),
      segmentBytes: args.commit_log_segment_bytes,
    });
    this.write(requestEnvelope(ha_codes.HA_HELLO, 1, body, { headers: this.deps.access.signHello(body) }));
  }

  private onData(chunk: Buffer): void {
    this.last_heard_ms = this.deps.now_ms();
    for (const result of this.decoder.push(chunk)) {
      if (this.closed) return;
      if (!result.ok) {
        this.close(`malformed frame from the master: ${result.error.message}`);
        return;
      }
      if (this.expected_offset < 0) this.onHelloReply(result.envelope);
      else this.onPush(result.envelope);
    }
  }

  private onHelloReply(frame: Envelope): void {
    if (frame.code !== ha_codes.HA_HELLO || (frame.flags & flag_response) === 0) {
      this.close(`the master sent code ${frame.code} before answering HA_HELLO`);
      return;
    }
    if ((frame.flags & flag_error) !== 0) {
      const error = decodeErrorResponse(frame.body);
      if (error.ok && error.value.code === 'ACCESS_DENIED') {
        const access_key = this.deps.access.access_key;
        const signed_as = access_key === undefined ? 'this node has no account to sign it with (give it --access-key and --secret-key)' : `it was signed by account "${access_key}" (--access-key)`;
        this.deps.log.error({ master: this.master, account: access_key ?? '', reason: error.value.message },
          `the master refused this slave's HA_HELLO (ACCESS_DENIED): ${signed_as}; the master's ACL file must hold that account, as an admin allowed from this address`);
      }
      this.close(`the master refused: ${error.ok ? `${error.value.code}: ${error.value.message}` : 'an unreadable error'}`);
      return;
    }
    const decoded = decodeHaHelloResponse(frame.body);
    if (!decoded.ok) {
      this.close(`unreadable HA_HELLO answer: ${decoded.error.message}`);
      return;
    }
    const own_offset = this.deps.control.load('write_offset');
    if (decoded.value.startOffset > own_offset) {
      this.close(`the master would stream from ${decoded.value.startOffset}, past this log's end ${own_offset}`);
      return;
    }
    if (decoded.value.startOffset < own_offset) {
      // Bytes the master does not have (written here under an older epoch, never
      // acknowledged): the log is cut before it follows.
      this.deps.onTruncationNeeded(decoded.value.startOffset);
      this.close(`this log holds bytes the master does not have, from ${decoded.value.startOffset} to ${own_offset}; it is cut there before following`);
      return;
    }
    this.deps.epochs.replaceWith(decoded.value.epochs.map((entry) => ({ epoch: entry.epoch, start_offset: entry.startOffset })));
    this.expected_offset = own_offset;
    this.appended_offset = own_offset;
    this.handshaken = true;
    this.deps.log.info({ master: this.master, offset: own_offset, master_offset: decoded.value.masterOffset }, 'replicating from the master');
    this.ack();
  }

  private onPush(frame: Envelope): void {
    if (frame.code !== ha_codes.HA_PUSH) {
      this.close(`unexpected frame code ${frame.code} from the master`);
      return;
    }
    if (frame.body.byteLength === 0) return; // keep-alive
    const offset = frame.correlationId;
    if (offset !== this.expected_offset) {
      this.close(`a chunk at ${offset}, where the log continues at ${this.expected_offset}`);
      return;
    }
    // A view of the frame, which the decoder never reuses: no copy until the segment.
    const bytes = Buffer.from(frame.body.buffer, frame.body.byteOffset, frame.body.byteLength);
    this.expected_offset += bytes.length;
    this.pending_bytes += bytes.length;
    if (this.pending_bytes > replicator_limits.slave_pending_bytes_max) this.socket.pause();
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        this.appended_offset = await this.deps.appendReplica(offset, bytes);
      } catch (error) {
        this.close(`appending the master's chunk at ${offset} failed: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      this.pending_bytes -= bytes.length;
      if (this.pending_bytes <= replicator_limits.slave_pending_bytes_max) this.socket.resume();
      this.ack();
    });
  }

  private ack(): void {
    if (!this.connected) return;
    this.write({ code: ha_codes.HA_ACK, correlationId: this.appended_offset, flags: flag_oneway, headers: {}, body: new Uint8Array(0) });
    this.last_acked_ms = this.deps.now_ms();
  }

  private write(envelope: Envelope): void {
    if (this.closed) return;
    const [head, body] = encodeFrameChunks(envelope, { frame_bytes_max: replicator_limits.frame_bytes_max });
    this.socket.write(head);
    if (body.length > 0) this.socket.write(body);
  }
}
