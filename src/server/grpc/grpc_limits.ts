import { body_bytes_max, frame_overhead_bytes_max } from '../../protocol/index.js';

/**
 * Every bound of the RocketMQ 5 gRPC endpoint, named in one place (qualifier last, units in
 * the name). What is not bounded here is bounded by grpc-js's own defaults, written next to
 * the option that would change it (grpc_listener.ts).
 */
export const grpc_limits = {
  /**
   * Largest request message grpc-js accepts: a maximal body plus room for what travels around
   * it (topic, properties, keys, system properties). A body over the broker's limit must
   * still arrive whole, so that the answer is MESSAGE_BODY_TOO_LARGE (41301) and not a bare
   * gRPC RESOURCE_EXHAUSTED the client cannot tell from a network error.
   */
  request_bytes_max: body_bytes_max + frame_overhead_bytes_max,
  /** Largest response message (a ReceiveMessage batch is streamed one message per response). */
  response_bytes_max: body_bytes_max + frame_overhead_bytes_max,
  /** Messages in one SendMessage; the official clients send one (a batch is a list of them). */
  messages_per_send_max: 1_024,
  /** Bytes the GZIP bodies of one SendMessage may unpack to, all together: what a request may
   *  hold uncompressed. */
  unpacked_bytes_per_request_max: body_bytes_max + frame_overhead_bytes_max,
  /** HTTP/2 streams one connection may have open at once (telemetry, long polls, unary calls). */
  concurrent_streams_per_connection_max: 1_024,
  /** Clients remembered from Heartbeat/Telemetry (by x-mq-client-id); the least recently seen goes first. */
  clients_max: 65_536,
  /** A client not heard from this long is forgotten (it heartbeats every 10 s). */
  client_expiry_ms: 120_000,
  /** Telemetry streams open at once, over all clients; one more is refused (TOO_MANY_REQUESTS). */
  telemetry_streams_max: 65_536,
  /** Commands from one telemetry stream handled per second before the stream is ended. */
  telemetry_commands_per_second_max: 100,
  /** Topics (or subscriptions) of one client's Settings that are kept; more are ignored. */
  settings_topics_max: 256,
  /** Longest x-mq-client-id, topic/group resource text or header the endpoint keeps. */
  client_id_chars_max: 256,
  /** Longest `authorization` header parsed. */
  authorization_chars_max: 1_024,
  /** Keys of one message, and the characters of one key. */
  keys_per_message_max: 64,
  key_chars_max: 1_024,
  /** Longest message id a client may give (its own ids are 34 hex characters). */
  message_id_chars_max: 128,
  /** Longest message group (FIFO), in characters. */
  message_group_chars_max: 256,
  /** Server keepalive: ping an idle connection this often, and drop it if no answer within the timeout,
   *  so a telemetry stream of a vanished client does not stay open for ever (it has no deadline). */
  keepalive_time_ms: 60_000,
  keepalive_timeout_ms: 20_000,
  /** Stop: wait this long for calls to finish (tryShutdown), then cut them (forceShutdown). */
  shutdown_grace_ms: 3_000,
} as const;

/** What the endpoint tells clients in their Settings (client_settings.ts). */
export const grpc_settings_defaults = {
  /** Retry back-off of producers and consumers: exponential, 1 s doubling to 10 s. */
  backoff_initial_ms: 1_000,
  backoff_max_ms: 10_000,
  backoff_multiplier: 2,
  /** Attempts of a producer send (the client keeps its own maxAttempts; this is informative). */
  producer_max_attempts: 3,
  /** Deliveries of a message to a consumer group before it goes to the dead-letter queue. */
  consumer_max_attempts: 16,
  /** Messages a PushConsumer asks for per ReceiveMessage. */
  receive_batch_size: 32,
  /** Long-polling time of a ReceiveMessage: the client's, if it asked, capped at the maximum.
   *  The official PushConsumer never asks (its Settings carry none) and polls for what the
   *  Settings answer says; its shutdown() waits for the poll in flight to end, so a long
   *  default makes every PushConsumer shutdown take that long. 5 s: an idle PushConsumer
   *  costs one receive per broker every 5 s, and stops in about 6 s. */
  long_polling_timeout_ms_default: 5_000,
  long_polling_timeout_ms_max: 30_000,
} as const;
