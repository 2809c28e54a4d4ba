/** Bounds of one client connection on a server (every listener: namesrv, broker, HA). */
export const server_connection_limits = {
  /** Requests of one connection being handled at once; more are answered BUSY. */
  in_flight_requests_max: 1_024,
  /** Bytes written to a connection and not yet taken by the peer: a client that does not
   *  read its replies is disconnected at this bound instead of growing the broker's memory. */
  write_buffer_bytes_max: 64 << 20,
  /** A connection must say HELLO within this, or it is closed. */
  handshake_timeout_ms: 10_000,
  /** Connections one listener accepts at once. */
  connections_max: 10_000,
  /** At stop, replies still being written get this long before connections are cut. */
  drain_timeout_ms: 2_000,
} as const;
