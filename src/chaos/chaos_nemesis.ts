import type { ChaosCluster, ChaosNode } from './chaos_cluster.js';
import type { ChaosSettings, FaultWindow, NemesisFault } from './chaos_history.js';
import { chaos_limits } from './chaos_options.js';

/** One fault of the schedule: what, on which node, when (ms since the run's start), for how long. */
export interface PlannedFault {
  at_ms: number;
  fault: NemesisFault;
  target: string;
  duration_ms: number;
}

/** How long a flush waits under `disk-slow` (the probe's `slow <ms>`). */
export const disk_slow_flush_delay_ms = 500;

/** The nodes a fault may hit: the disk faults need a broker's store; the others hit any node. */
function eligible(fault: NemesisFault, node: { kind: 'namesrv' | 'broker' }): boolean {
  return fault === 'disk-slow' || fault === 'disk-full' ? node.kind === 'broker' : true;
}

/**
 * The run's fault schedule, fixed before anything starts and a function of the settings
 * and the nodes only: the same `--seed` gives the same faults on the same nodes at the same
 * times. One fault at a time: the first after the warm-up, then one every
 * `fault_interval_ms`, each healed after `fault_duration_ms`, none past the load's end.
 */
export function planFaults(settings: ChaosSettings, nodes: ReadonlyArray<{ name: string; kind: 'namesrv' | 'broker' }>): PlannedFault[] {
  const random = seededRandom(settings.seed);
  const sorted = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const plan: PlannedFault[] = [];
  for (let at_ms = chaos_limits.warm_up_ms; at_ms + settings.fault_duration_ms <= settings.duration_ms; at_ms += settings.fault_interval_ms) {
    const fault = settings.nemesis[Math.floor(random() * settings.nemesis.length)] as NemesisFault;
    const targets = sorted.filter((node) => eligible(fault, node));
    const target = targets[Math.floor(random() * targets.length)]?.name;
    if (target !== undefined) plan.push({ at_ms, fault, target, duration_ms: settings.fault_duration_ms });
  }
  return plan;
}

/**
 * Runs the schedule against the cluster: injects each fault at its time, heals it after its
 * duration, and records the window. `stop()` ends the schedule early and heals the fault in
 * progress. Owned by the chaos command's thread; one fault runs at a time.
 */
export class Nemesis {
  readonly windows: FaultWindow[] = [];
  /** What went wrong while injecting or healing (a node that would not restart, ...). */
  readonly incidents: string[] = [];
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly plan: readonly PlannedFault[],
    private readonly cluster: ChaosCluster,
    /** Milliseconds since the run's start. */
    private readonly elapsedMs: () => number,
  ) {}

  async run(): Promise<void> {
    for (const planned of this.plan) {
      await this.sleepUntil(planned.at_ms);
      if (this.stopping) return;
      const node = this.cluster.node(planned.target);
      const window: FaultWindow = { fault: planned.fault, target: planned.target, ...(node.group === undefined ? {} : { group: node.group }), start_ms: this.elapsedMs(), end_ms: -1, how: '' };
      this.windows.push(window);
      try {
        window.how = await this.inject(planned.fault, node);
      } catch (error) {
        // Not injected: recorded as such, and the schedule goes on.
        const message = `${planned.fault} on ${node.name} could not be injected: ${(error as Error).message}`;
        this.incidents.push(message);
        window.how = message;
        window.end_ms = this.elapsedMs();
        continue;
      }
      await this.sleepUntil(planned.at_ms + planned.duration_ms);
      await this.heal(planned.fault, node, window);
      window.end_ms = this.elapsedMs();
    }
  }

  /** Ends the schedule: the fault in progress is healed by run() before it returns. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  private async inject(fault: NemesisFault, node: ChaosNode): Promise<string> {
    switch (fault) {
      case 'kill9':
        await this.cluster.kill9(node);
        return 'SIGKILL; restarted on the same ports and data when healed';
      case 'pause':
        this.cluster.pause(node);
        return 'SIGSTOP; SIGCONT when healed';
      case 'partition':
        await this.cluster.partition(node);
        return this.cluster.network.cut_description;
      case 'disk-slow':
        this.cluster.setDiskFault(node, `slow ${disk_slow_flush_delay_ms}`);
        return `fault probe: every flush waits ${disk_slow_flush_delay_ms} ms first`;
      case 'disk-full':
        this.cluster.setDiskFault(node, 'full');
        return 'fault probe: the disk guard sees a full disk (appends refused)';
    }
  }

  private async heal(fault: NemesisFault, node: ChaosNode, window: FaultWindow): Promise<void> {
    try {
      if (fault === 'kill9') await this.cluster.restart(node);
      if (fault === 'pause') this.cluster.resume(node);
      if (fault === 'partition') this.cluster.reconnect(node);
      if (fault === 'disk-slow' || fault === 'disk-full') this.cluster.clearDiskFault(node);
    } catch (error) {
      const message = `${node.name} did not come back after ${fault}: ${(error as Error).message}`;
      this.incidents.push(message);
      window.how += ` (${message})`;
    }
  }

  /** Sleeps until `at_ms` on the run's clock, or until stop(). */
  private async sleepUntil(at_ms: number): Promise<void> {
    const wait_ms = at_ms - this.elapsedMs();
    if (wait_ms <= 0 || this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait_ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }
}

/** mulberry32: a small, fast PRNG whose sequence depends only on the seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}
