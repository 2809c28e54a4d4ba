/** Timings and bounds of the nameserver cluster (the election timeout is a flag). */
export const cluster_limits = {
  /** What a nameserver without peers passes for the flags that only a cluster reads. */
  election_timeout_ms_alone: 1_500,
  semi_sync_acks_alone: 1,
  semi_sync_timeout_ms_alone: 1_000,
  /** The leader beats this many times per election timeout: a follower misses several
   *  beats before it stands for election. */
  beats_per_election_timeout: 5,
  beat_interval_ms_min: 20,
  /** How long an upstream holds a fetch that is caught up, waiting for a new entry. */
  fetch_wait_ms: 500,
  /** After a failed fetch, the follower waits this long before the next. */
  fetch_retry_ms: 100,
  /** Command bytes in one fetch answer. */
  fetch_bytes_max: 1 << 20,
  /** A write or read forwarded to the leader or the tail. */
  forward_timeout_ms: 3_000,
  /** Fetches held at once on one node (one per follower is the normal count). */
  parked_fetches_max: 256,
} as const;
