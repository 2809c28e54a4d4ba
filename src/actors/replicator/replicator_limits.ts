/** Every bound of the HA link, named (style rule 3). */
export const replicator_limits = {
  /** CommitLog bytes per HA_PUSH frame (one record more when a record is larger). */
  chunk_bytes_max: 1 << 20,
  /** Largest frame either side accepts: a chunk, or the biggest record (16 MiB) plus the envelope. */
  frame_bytes_max: (16 << 20) + (64 << 10),
  /** The master stops reading its log for a slave whose socket holds this much unsent. */
  socket_buffered_bytes_max: 8 << 20,
  /** The slave stops reading its socket while this much received is not appended yet. */
  slave_pending_bytes_max: 16 << 20,
  /** Either side speaks at least this often (an empty HA_PUSH, an HA_ACK). */
  keepalive_interval_ms: 1_000,
  /** A link that heard nothing for this long is closed (and, on a slave, made again). */
  link_silence_ms_max: 5_000,
  /** The slave's reconnect delay: doubling from the first to the last. */
  reconnect_delay_ms_min: 200,
  reconnect_delay_ms_max: 5_000,
  /** The handshake must complete within this. */
  handshake_timeout_ms: 5_000,
  /** A slave this far behind the master's end is connected but not in sync (RocketMQ's
   *  haMaxGapNotInSync): sync replication does not count on it. */
  in_sync_gap_bytes: 256 << 20,
  /** Slaves one master serves. */
  slaves_max: 16,
  /** Connections of one address that have not finished the handshake; more are closed at
   *  once, so that no one peer holding sockets open can take the port's places. */
  handshakes_per_address_max: 2,
  /** Places on the port for connections still in their handshake, besides the slaves'. */
  handshakes_max: 64,
  /** A repeated HA log line (a refusal, a dropped connection) at most this often per reason. */
  log_interval_ms: 1_000,
  log_keys_max: 1_024,
  /** The actor's timer. */
  tick_ms: 250,
  /** The master's pump waits at most this for new appends before looking again. */
  write_wait_ms: 1_000,
} as const;
