import type { MessagePort } from 'node:worker_threads';
import type { ActorStats, ThreadStats } from './actor_stats.js';
import type { RestartOutcome } from './actor_cell.js';
import type { RuntimeLimits } from './limits.js';
import type { Placement, RouterEvent } from './router.js';

/**
 * The control plane of one worker thread, called from the main thread through Comlink.
 * Only management goes this way (spawn, stop, links, stats, inspection): messages between
 * actors never do — they travel as batched binary envelopes on the data ports.
 */
export interface HostControl {
  /** Links this thread to another one with a dedicated data port. */
  connectPeer(thread: number, port: MessagePort): void;
  /** Another thread died: fail what waits on it. */
  peerDown(thread: number): void;
  setPlacements(placements: Placement[]): void;
  removePlacement(address: string): void;
  /** Loads the actor's module on this thread, creates and starts it. Resolves with the name of
   *  the protocol it speaks, so the caller can check it matches the one it will send with. */
  spawn(spec: SpawnSpec): Promise<{ protocol: string; kind: string }>;
  /** Handles what is in the actor's mailbox, then stops it. */
  stopActor(address: string): Promise<void>;
  /** Restarts the actor as its supervisor would; false when it is not running here. */
  restartActor(address: string, hold_ms: number): RestartOutcome;
  list(): Array<{ address: string; kind: string }>;
  stats(): ActorStats[];
  /** This thread's heap and event-loop delay since the previous call. */
  threadStats(): ThreadStats;
  inspect(address: string): Record<string, unknown> | undefined;
  counters(): { pending_asks: number; late_replies: number; dropped_tells: number };
}

export interface SpawnSpec {
  id: number;
  address: string;
  /** URL (file:) of a module that exports `actor` (an ActorDefinition). */
  module: string;
  args: unknown;
  mailbox_messages_max: number;
  restarts_before: number;
}

/** What a worker is given when it starts (workerData). */
export interface HostStartData {
  thread: number;
  /** Comlink's channel for HostControl. */
  control_port: MessagePort;
  /** Data channel to the main thread (thread 0). */
  main_data_port: MessagePort;
  /** Comlink's channel for SystemControl (the main thread's services to actors). */
  system_port: MessagePort;
  limits: RuntimeLimits;
}

/** What the main thread offers actors on workers, through Comlink (control plane only). */
export interface SystemControl {
  /** Spawns an actor like ActorSystem.spawn; `protocol` is the protocol's name, checked
   *  against the definition's. Resolves once every thread knows where the actor lives.
   *  Failures come back as a value: Comlink turns a thrown MqError into a plain Error and
   *  its `code` would be lost. */
  spawn(spec: RemoteSpawnSpec): Promise<ControlResult>;
}

export type ControlResult = { ok: true } | { ok: false; code: string; message: string; retriable: boolean };

export interface RemoteSpawnSpec {
  address: string;
  module: string;
  protocol: string;
  args: unknown;
  thread?: number;
  mailbox_messages_max?: number;
}

/** Messages a worker posts on its parentPort to the main thread (events, never data). */
export type HostEvent = RouterEvent;
