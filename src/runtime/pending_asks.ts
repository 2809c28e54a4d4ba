import { MqError } from './errors.js';
import type { Codec } from './actor_protocol.js';

interface PendingAsk {
  resolve(value: unknown): void;
  reject(error: MqError): void;
  timer: NodeJS.Timeout;
  /** Thread of the actor asked: when that thread dies, the ask fails at once. */
  target_thread: number;
  reply_codec: Codec<unknown>;
  address: string;
}

/**
 * The asks of one thread that wait for a reply, by correlation id. Bounded: past
 * `pending_max` a new ask is refused with BUSY instead of growing the table.
 * Owned by one thread's Router; never shared.
 */
export class PendingAsks {
  private readonly by_id = new Map<number, PendingAsk>();
  private next_id = 1;
  late_replies = 0;

  constructor(private readonly pending_max: number) {}

  get size(): number {
    return this.by_id.size;
  }

  /** Registers an ask; returns its correlation id and the promise of its reply. */
  open<R>(address: string, target_thread: number, reply_codec: Codec<R>, timeout_ms: number): { id: number; reply: Promise<R> } {
    if (this.by_id.size >= this.pending_max) {
      return {
        id: 0,
        reply: Promise.reject(new MqError('BUSY', `too many asks in flight on this thread (${this.pending_max}); retry later`)),
      };
    }
    const id = this.allocateId();
    const reply = new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.by_id.delete(id);
        reject(new MqError('TIMEOUT', `no reply from '${address}' within ${timeout_ms} ms`));
      }, timeout_ms);
      this.by_id.set(id, {
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
        target_thread,
        reply_codec: reply_codec as Codec<unknown>,
        address,
      });
    });
    return { id, reply };
  }

  /** The reply codec of an open ask, or undefined if it already ended (timed out). */
  codecOf(id: number): Codec<unknown> | undefined {
    return this.by_id.get(id)?.reply_codec;
  }

  resolve(id: number, value: unknown): void {
    const ask = this.take(id);
    if (ask === undefined) return;
    ask.resolve(value);
  }

  reject(id: number, error: MqError): void {
    const ask = this.take(id);
    if (ask === undefined) return;
    ask.reject(error);
  }

  /** Fails every ask waiting on `thread` (it died: no reply will ever come). */
  rejectThread(thread: number, error: () => MqError): number {
    let count = 0;
    for (const [id, ask] of this.by_id) {
      if (ask.target_thread !== thread) continue;
      this.by_id.delete(id);
      clearTimeout(ask.timer);
      ask.reject(error());
      count++;
    }
    return count;
  }

  rejectAll(error: () => MqError): void {
    for (const [id, ask] of this.by_id) {
      this.by_id.delete(id);
      clearTimeout(ask.timer);
      ask.reject(error());
    }
  }

  private take(id: number): PendingAsk | undefined {
    const ask = this.by_id.get(id);
    if (ask === undefined) {
      this.late_replies++;
      return undefined;
    }
    this.by_id.delete(id);
    clearTimeout(ask.timer);
    return ask;
  }

  private allocateId(): number {
    // u32 ids that wrap; 0 is reserved for "no reply wanted". The table is far smaller than
    // 2^32, so the loop ends after a few steps at most.
    for (;;) {
      const id = this.next_id;
      this.next_id = this.next_id >= 0xffff_ffff ? 1 : this.next_id + 1;
      if (!this.by_id.has(id)) return id;
    }
  }
}
