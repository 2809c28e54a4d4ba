/**
 * Every bound of the actor runtime, named in one place (qualifier last, unit in the name).
 * Values are defaults; ActorSystem options and spawn options may override the per-actor ones.
 */
export const runtime_limits = {
  /** Messages queued for one actor before senders get BUSY (ask) or the tell is dropped and counted. */
  mailbox_messages_max: 65_536,
  /** Messages one actor handles before the thread turns to other actors and to I/O. */
  drain_messages_per_turn: 512,
  /** Messages one thread handles in one scheduling turn before yielding to the event loop. */
  thread_messages_per_turn: 4_096,
  /** Asks one thread may have waiting for replies; past this, ask rejects with BUSY. */
  pending_asks_max: 262_144,
  ask_timeout_ms_default: 5_000,
  /** A batch to another thread is posted at once when it reaches this size, not at turn end. */
  outbox_flush_bytes: 1 << 20,
  outbox_initial_bytes: 16 << 10,
  /** One message's encoded size may not exceed this (bulk data goes through shared segments). */
  message_bytes_max: 16 << 20,

  /** Handler crashes: restart after backoff doubling from initial to max. */
  restart_backoff_initial_ms: 10,
  restart_backoff_max_ms: 2_000,
  /** More crashes than this within the window and the actor is marked failed (a restart storm). */
  restarts_in_window_max: 5,
  restart_window_ms: 10_000,

  /** Worker thread deaths: more than this within the window and the thread is not replaced. */
  thread_deaths_in_window_max: 3,
  thread_death_window_ms: 30_000,

  /** A control-plane call (spawn, stop, stats) that takes longer has failed. */
  control_call_timeout_ms: 15_000,
  /** /healthz: every thread's probe must answer within this. */
  probe_timeout_ms: 2_000,
} as const;

export type RuntimeLimits = { readonly [K in keyof typeof runtime_limits]: number };
