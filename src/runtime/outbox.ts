import { assert } from './assert.js';
import type { Codec } from './actor_protocol.js';
import { MqError } from './errors.js';
import { envelope_header_bytes, writeEnvelopeHeader, type EnvelopeHeader } from './thread_envelope.js';

/**
 * Envelopes waiting to go to one other thread. Messages are Avro-encoded straight into one
 * ArrayBuffer; `flush` transfers that buffer (no copy) with a single postMessage, so a burst
 * of N messages costs one wake-up of the receiving thread instead of N.
 * Owned by one thread's Router.
 */
export class Outbox {
  private buffer: Buffer;
  private length = 0;
  private count = 0;
  /** Size of the last flushed batch: the next buffer starts near it, so steady streams do not regrow. */
  private last_batch_bytes: number;
  batches_posted = 0;
  messages_posted = 0;

  constructor(
    private readonly post: (batch: Uint8Array, transfer: ArrayBuffer) => void,
    private readonly initial_bytes: number,
    private readonly message_bytes_max: number,
  ) {
    this.last_batch_bytes = initial_bytes;
    this.buffer = this.freshBuffer(initial_bytes);
  }

  get pending_bytes(): number {
    return this.length;
  }

  append<T>(header: EnvelopeHeader, codec: Codec<T>, value: T): void {
    const start = this.length;
    for (let attempt = 0; ; attempt++) {
      const payload_start = start + envelope_header_bytes;
      const end = payload_start <= this.buffer.length ? codec.encode(value, this.buffer, payload_start) : -envelope_header_bytes;
      if (end >= 0) {
        const size = end - start;
        if (size > this.message_bytes_max) {
          throw new MqError('MESSAGE_TOO_LARGE', `an actor message of ${size} bytes exceeds ${this.message_bytes_max}; send bulk data through a segment or ring`);
        }
        writeEnvelopeHeader(this.buffer, start, size, header);
        this.length = end;
        this.count++;
        return;
      }
      assert(attempt < 40, 'Outbox.append: encoder keeps asking for more room');
      this.grow(this.buffer.length + Math.max(-end, this.buffer.length));
    }
  }

  /** Posts what is queued, if anything; returns the number of messages sent. */
  flush(): number {
    if (this.count === 0) return 0;
    const sent = this.count;
    const batch = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.length);
    this.last_batch_bytes = this.length;
    const transfer = this.buffer.buffer as ArrayBuffer;
    this.buffer = this.freshBuffer(Math.max(this.initial_bytes, this.last_batch_bytes));
    this.length = 0;
    this.count = 0;
    this.batches_posted++;
    this.messages_posted += sent;
    this.post(batch, transfer);
    return sent;
  }

  /** Drops what is queued (the peer died); returns how many messages were dropped. */
  discard(): number {
    const dropped = this.count;
    this.length = 0;
    this.count = 0;
    return dropped;
  }

  private grow(bytes: number): void {
    const larger = this.freshBuffer(bytes);
    this.buffer.copy(larger, 0, 0, this.length);
    this.buffer = larger;
  }

  private freshBuffer(bytes: number): Buffer {
    // Not Buffer.allocUnsafe: small ones come from a shared pool slab that cannot be transferred.
    return Buffer.from(new ArrayBuffer(bytes));
  }
}
