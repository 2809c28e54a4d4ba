import { MqError } from '../../../runtime/errors.js';
import { cluster_limits } from './cluster_limits.js';

interface Parked {
  beyond_seq: number;
  wake: () => void;
  timer: NodeJS.Timeout;
}

/**
 * Fetches that found nothing new, held until the log grows past what they have or their
 * wait ends (a long poll: a new entry reaches a caught-up follower at once, and an idle
 * cluster costs one fetch per follower per wait). Owned by the nameserver's main thread.
 */
export class FetchWaiters {
  private parked: Parked[] = [];

  /** Resolves when the log ends beyond `seq`, or after `wait_ms`. */
  waitBeyond(seq: number, wait_ms: number): Promise<void> {
    if (this.parked.length >= cluster_limits.parked_fetches_max) {
      return Promise.reject(new MqError('BUSY', `${this.parked.length} fetches are waiting on this nameserver already`));
    }
    return new Promise<void>((resolve) => {
      const parked: Parked = {
        beyond_seq: seq,
        wake: () => {
          clearTimeout(parked.timer);
          this.parked = this.parked.filter((other) => other !== parked);
          resolve();
        },
        timer: setTimeout(() => parked.wake(), wait_ms),
      };
      this.parked.push(parked);
    });
  }

  /** The log now ends at `last_seq`. */
  wake(last_seq: number): void {
    for (const parked of [...this.parked]) if (last_seq > parked.beyond_seq) parked.wake();
  }

  wakeAll(): void {
    for (const parked of [...this.parked]) parked.wake();
  }
}
