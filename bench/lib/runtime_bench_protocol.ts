import { defineControlBlock } from '../../src/runtime/control_block.js';

/**
 * What the runtime bench's main thread and its worker share: the worker's progress in a
 * control block (read by the main thread without a message), and the named messages.
 */
export const bench_progress_block = defineControlBlock('bench.progress', {
  /** Messages the worker has handled. Written by the worker only, after each event or drain. */
  messages_received: 'i64',
  /** Times the worker was woken to handle messages. Written by the worker only. */
  wakeups: 'i64',
} as const);

export type Transport = 'per_message' | 'batched' | 'ring';

export interface BenchWorkerInput {
  transport: Transport;
  progress: SharedArrayBuffer;
  /** The ring to read (transport 'ring' only). */
  ring: SharedArrayBuffer | null;
  /** per_message: the worker acknowledges every this many messages. */
  ack_every_messages: number;
  /** The worker gives up when nothing arrives for this long. */
  idle_timeout_ms: number;
}

/**
 * A batch for transport 'batched', in one transferred ArrayBuffer:
 *
 *     ┌─────────────┬──────────────┬─────────────┬──────────────┬─────┐
 *     │ count: u32  │ length: u32  │ bytes       │ length: u32  │ ... │
 *     └─────────────┴──────────────┴─────────────┴──────────────┴─────┘
 */
export const batch_header_bytes = 4;
export const batch_length_bytes = 4;

/** Main thread to worker (besides data: a Uint8Array per message, or a batch ArrayBuffer). */
export type ToBenchWorker = { kind: 'finish' };

/** Worker to main thread. */
export type FromBenchWorker =
  /** Flow control: `messages` handled so far; batched mode gives the batch buffer back for reuse. */
  | { kind: 'ack'; messages: number; buffer: ArrayBuffer | null }
  | { kind: 'finished'; messages: number; wakeups: number; checksum: number }
  | { kind: 'failed'; problem: string };
