/**
 * How long each fault of a chaos run kept writes away (chaos_checker.ts puts it in the
 * verdict). Pure: data in, figures out.
 */
import type { FaultWindow, NemesisFault, SendRecord } from './chaos_history.js';

/** Faults that stop a node or its group taking writes, so a recovery time means something (a slow disk does not). */
const recovery_faults: ReadonlySet<NemesisFault> = new Set<NemesisFault>(['kill9', 'pause', 'partition', 'disk-full']);

export interface FaultVerdict extends FaultWindow {
  /**
   * kill9, pause, partition and disk-full (null for a slow disk, or when no send was acked
   * after the fault): from the fault's start to the earliest ack of a send that started at or
   * after it, in the target's broker group when the target is a broker.
   */
  recovery_ms: number | null;
}

/**
 * Recovery per fault: from its start to the first ack of a send started at or after it — of
 * a send stored in the target's broker group when the target is a broker (the other groups
 * take sends meanwhile), of any send otherwise. The acked sends sorted by start, with the
 * earliest ack among each suffix, answer that with one binary search per fault.
 */
export function faultRecoveries(faults: readonly FaultWindow[], records: readonly SendRecord[]): FaultVerdict[] {
  const acked = records.filter((send) => send.outcome === 'acked' && Number.isFinite(send.end_ms));
  const by_group = new Map<string | undefined, AckIndex>();
  const indexOf = (group: string | undefined): AckIndex => {
    let index = by_group.get(group);
    if (index === undefined) {
      index = ackIndex(group === undefined ? acked : acked.filter((send) => send.broker === group));
      by_group.set(group, index);
    }
    return index;
  };
  return faults.map((fault) => {
    if (!recovery_faults.has(fault.fault)) return { ...fault, recovery_ms: null };
    const { sends, earliest_end } = indexOf(fault.group);
    let low = 0;
    let high = sends.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((sends[middle] as SendRecord).start_ms < fault.start_ms) low = middle + 1;
      else high = middle;
    }
    const recovery_ms = low < sends.length ? (earliest_end[low] as number) - fault.start_ms : null;
    return { ...fault, recovery_ms };
  });
}

interface AckIndex {
  /** Acked sends by start time. */
  sends: SendRecord[];
  /** The earliest ack among sends[at..]. */
  earliest_end: Float64Array;
}

function ackIndex(acked: readonly SendRecord[]): AckIndex {
  const sends = [...acked].sort((a, b) => a.start_ms - b.start_ms);
  const earliest_end = new Float64Array(sends.length);
  let earliest = Infinity;
  for (let at = sends.length - 1; at >= 0; at--) {
    earliest = Math.min(earliest, (sends[at] as SendRecord).end_ms);
    earliest_end[at] = earliest;
  }
  return { sends, earliest_end };
}
