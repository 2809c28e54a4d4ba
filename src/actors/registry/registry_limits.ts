/**
 * Bounds of the nameserver's registry. Every table the registry keeps is bounded here, so a
 * misbehaving broker (or a hostile peer on the namesrv port) can make a request fail but
 * cannot grow the nameserver's memory without limit.
 */
export const registry_limits = {
  /** A broker silent this long is evicted and its routes withdrawn (RocketMQ: 120 s). */
  broker_expiry_ms_default: 120_000,
  /** Shorter expiries only make sense in tests; below this, timer jitter alone evicts brokers. */
  broker_expiry_ms_min: 50,
  broker_expiry_ms_max: 3_600_000,
  /** Broker groups (brokerNames) one nameserver routes. */
  broker_groups_max: 4_096,
  /** Brokers in one group: a master and its slaves. */
  members_per_group_max: 64,
  /** Topics one nameserver routes, counting those whose brokers all left. */
  topics_max: 100_000,
  /** Topic configs in one REGISTER_BROKER (the broker's own limit is lower). */
  topics_per_registration_max: 65_536,
  /** Read or write queues of one topic on one broker group. */
  queues_per_topic_max: 1_024,
  /** `host:port` of a broker: a DNS name (253) or bracketed IPv6, a colon and a port. */
  address_chars_max: 261,
  /** Cluster and broker-group names (the `--cluster` / `--broker-name` rule). */
  name_chars_max: 127,
} as const;

/** Bounds of the registry's log. */
export const registry_log_limits = {
  /** Entries kept in memory for followers that catch up; one further behind gets a snapshot. */
  entries_in_memory_max: 50_000,
  /** A snapshot is written (and the log file emptied) after this many logged entries. */
  snapshot_every_entries: 10_000,
} as const;
