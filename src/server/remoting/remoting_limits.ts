/** Bounds of one client connection on a server (every listener: namesrv, broker, HA). */
export const server_connection_limits = {
  /** Requests of one connection being handled at once; more are answered BUSY. */
  in_flight_requests_max: 1_024,
  /** Bytes written to a connection and not yet taken by the peer: a client that does not
   *  read its replies is disconnected at this bound instead of growing the broker's memory. */
  write_buffer_bytes_max: 64 << 20,
  /** Bytes of replies one connection's handlers may be building at once (reserved before a
   *  large reply copies data out of the store: PULL, GET_MESSAGE). Requests that arrive in
   *  one read all start before the first reply is written, so without this a burst of 1,024
   *  pulls would copy 1,024 x 8 MiB before the write-buffer bound above could cut it off. */
  reply_bytes_reserved_max: 32 << 20,
  /** A connection must say HELLO within this, or it is closed. */
  handshake_timeout_ms: 10_000,
  /** Connections one listener accepts at once. */
  connections_max: 10_000,
  /** Connections one listener keeps open from one source address (default of
   *  --connections-per-address-max); more are closed at once, before HELLO. One host in a
   *  reconnect loop cannot take the listener's whole `connections_max`, while a NAT gateway
   *  in front of a few hundred client processes (one connection per broker each, plus one
   *  to a nameserver) still fits. */
  connections_per_address_max: 1_000,
  /** A refused address is logged at most once per this interval (with the count refused
   *  since): a flood of connections must not become a flood of log lines. */
  refusal_log_interval_ms: 60_000,
  /** Addresses whose last refusal log time is remembered; past this the oldest is forgotten
   *  (and may be logged again sooner than the interval). */
  refusal_log_addresses_max: 1_024,
  /** At stop, replies still being written get this long before connections are cut. */
  drain_timeout_ms: 2_000,
} as const;
