/** Bounds and timings of the nameserver's main-thread side (the registry's own are in registry_limits.ts). */
export const namesrv_limits = {
  /** Registry changes waiting their turn (they run one at a time so events keep their order);
   *  past this a change is answered BUSY and the broker retries on its next heartbeat. */
  changes_queued_max: 10_000,
  /** Events waiting for one plugin; a plugin that falls further behind loses events (counted). */
  plugin_events_queued_max: 10_000,
  /** An asynchronous plugin handler that has not settled by then counts as failed, and the
   *  plugin gets its next event. */
  plugin_event_timeout_ms: 5_000,
  /** At stop, plugins get this long to take the events still queued for them. */
  plugin_drain_timeout_ms: 2_000,
  /** The expiry scan runs every expiry / this, within the bounds below: a broker is evicted
   *  at most a tenth of its expiry late. */
  expiry_scans_per_expiry: 10,
  expiry_scan_interval_ms_min: 10,
  expiry_scan_interval_ms_max: 5_000,
} as const;

export function expiryScanIntervalMs(broker_expiry_ms: number): number {
  const interval = Math.floor(broker_expiry_ms / namesrv_limits.expiry_scans_per_expiry);
  return Math.min(namesrv_limits.expiry_scan_interval_ms_max, Math.max(namesrv_limits.expiry_scan_interval_ms_min, interval));
}
