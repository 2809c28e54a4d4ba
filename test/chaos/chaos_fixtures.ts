import { execFileSync } from 'node:child_process';
import type { ChaosSettings } from '../../src/chaos/chaos_history.js';

/**
 * What the chaos tests share: the settings of a small cluster (each test names what it
 * varies), and whether network namespaces can be made here (the partition fault needs them).
 */

/** A nameserver, two groups of a master and a slave, sync and sync, two producers and consumers, four queues. */
export function chaosSettings(varied: Partial<ChaosSettings> & Pick<ChaosSettings, 'duration_ms' | 'nemesis' | 'seed'>): ChaosSettings {
  return {
    rate_per_s: 100,
    namesrvs: 1,
    groups: 2,
    slaves: 1,
    replication: 'sync',
    flush: 'sync',
    producers: 2,
    consumers: 2,
    queues: 4,
    fault_interval_ms: 10_000,
    fault_duration_ms: 4_000,
    ...varied,
  };
}

/** Whether this process may make network namespaces (root and iproute2): makes and removes one. */
export function namespacesAvailable(): boolean {
  const probe = `mqc-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
