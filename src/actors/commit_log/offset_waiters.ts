/**
 * Acknowledgements waiting for a position to pass their end offset: the flush offset (sync
 * flush) or the replicated offset (sync replication). Appends end in increasing order, so
 * the waiters stay sorted and a new position resolves a prefix of them. Each resolves true
 * when covered, false when its timeout passes first. Owned by the CommitLog writer's thread.
 */
interface Waiter {
  end_offset: number;
  resolve(covered: boolean): void;
  timer: NodeJS.Timeout;
}

export class OffsetWaiters {
  private readonly waiters: Waiter[] = [];

  constructor(private readonly timeout_ms: number) {}

  get size(): number {
    return this.waiters.length;
  }

  /** Resolves once `covered(offset)` reaches `end_offset` (true), or after the timeout (false). */
  until(end_offset: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        end_offset,
        resolve,
        timer: setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          resolve(false);
        }, this.timeout_ms),
      };
      this.waiters.push(waiter);
    });
  }

  /** The position reached `offset`: every waiter ending at or below it is covered. */
  covered(offset: number): void {
    let count = 0;
    while (count < this.waiters.length && (this.waiters[count] as Waiter).end_offset <= offset) count++;
    for (const waiter of this.waiters.splice(0, count)) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  /** Resolves every waiter now: true where `offset` covers it, false otherwise. */
  settleAll(offset: number): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(offset >= waiter.end_offset);
    }
  }
}
