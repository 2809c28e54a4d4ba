/**
 * Every bound of the pop engine (RocketMQ 5's "simple consumer" model: receive, ack, change
 * invisible duration, forward to the dead letters). Each is a named default; PopEngine takes
 * a partial override so that tests can hit the bounds with small numbers.
 */
export const pop_limits = {
  /** Messages one receive returns at most. The proto allows more; the official PushConsumer
   *  asks for `receive_batch_size` (we advertise 32), the SimpleConsumer for 10 by default. */
  batch_size_max: 32,
  /** Body bytes one receive returns at most (the first message always goes, whatever its
   *  size, so that a large message never blocks its queue): the same bound as a PULL. */
  receive_bytes_max: 8 << 20,
  /** A receive that finds nothing waits at most this long for a message (the broker's
   *  PullHold caps its holds at the same 30 s). */
  long_poll_ms_max: 30_000,
  /** Invisible duration of a receive that names none (the PushConsumer sends none): the
   *  RocketMQ proxy's default for push consumers is 60 s; the SimpleConsumer's own is 15 s. */
  invisible_ms_default: 30_000,
  /** Shortest invisible duration a receive may ask for: a message visible again at once would
   *  be redelivered by the next receive and reach the dead letters after a few round trips. */
  receive_invisible_ms_min: 1_000,
  /** Shortest invisible duration ChangeInvisibleDuration may ask for: 0 makes the message
   *  visible now (the next receive redelivers it). The official PushConsumer's nack sends its
   *  back-off in seconds as milliseconds (1 ms for 1 s) or 0, so tiny values must be taken. */
  change_invisible_ms_min: 0,
  /** Longest invisible duration (RocketMQ's proxy allows 12 h as well). */
  invisible_ms_max: 12 * 60 * 60 * 1000,
  /** Deliveries of one message before it goes to the group's dead letters (RocketMQ's 16). */
  max_attempts_default: 16,
  /** The most a group or a receive may ask for (the send-back path counts up to 65,535). */
  max_attempts_max: 1_000,
  /** Messages received and not yet acked, per (group, topic): beyond, receive answers BUSY
   *  (TOO_MANY_REQUESTS: the PushConsumer polls again after 20 ms). */
  in_flight_per_subscription_max: 65_536,
  /** Received messages above a queue's committed offset, acked or not, per (group, topic):
   *  the in-flight ones plus the "acked above the committed offset" set. One message that is
   *  never acked holds its queue's committed offset until it is dead-lettered; meanwhile the
   *  group reads on, up to this bound, then receive answers BUSY. An acked one costs 8
   *  bytes (pop_queue.ts). */
  tracked_per_subscription_max: 131_072,
  /** The same over all (group, topic) pairs: 8 MB of offsets at the bound. */
  tracked_total_max: 1_048_576,
  /** Messages in flight over all (group, topic) pairs: ~250 bytes each in memory (the entry
   *  object, its handle-table slot and its queue slot), so ~64 MB at the bound. */
  in_flight_total_max: 262_144,
  /** Deadlines in the timing wheel. An ack or a new deadline leaves the old deadline in the
   *  wheel until it falls due (the wheel has no delete; a stale deadline costs 28 bytes and is
   *  dropped when it fires), so the wheel holds more than the in-flight messages. One
   *  in_flight_total_max of it is reserved for the live deadlines the engine sets itself
   *  (InFlightTable.client_room); clients' deliveries and new durations may fill the other
   *  three. Full: receive and ChangeInvisibleDuration answer BUSY until deadlines fall due. */
  wheel_entries_max: 4 * 262_144,
  /** (group, topic) pairs tracked. Beyond, pairs idle for subscription_idle_ms with nothing in
   *  flight are forgotten (their committed offsets are in the offset store); if none is, a
   *  new pair's register answers BUSY. */
  subscriptions_max: 4_096,
  subscription_idle_ms: 10 * 60 * 1000,
  /** Dead-letter appends running at once; more wait (automatic ones) or answer BUSY
   *  (ForwardMessageToDeadLetterQueue, which the FIFO PushConsumer retries every second). */
  dead_letters_in_flight_max: 64,
  /** A dead-letter append that failed (a slave, a full disk) is tried again after this long. */
  dead_letter_retry_ms: 5_000,
  /** Queues whose committed offsets one register queries at once from the offset store. */
  offset_queries_parallel_max: 64,
} as const;

export type PopLimits = { -readonly [K in keyof typeof pop_limits]: number };

/** The timing wheel's shape: 100 ms ticks, 1 s, 1 min, 1 h, 1 day turns. A deadline is at
 *  most invisible_ms_max (12 h) ahead, so it always fits the wheel's levels or its heap. */
export const pop_wheel_shape = { tick_ms: 100, level_slots: [10, 60, 60, 24] } as const;
