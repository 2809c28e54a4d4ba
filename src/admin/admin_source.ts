import type { StoreView } from '../actors/store/store_view.js';
import type { ActorStats } from '../runtime/actor_stats.js';

export type { ActorStats, StoreView };

/** Whether a node can serve: every worker thread answered a probe and its listeners are up. */
export interface HealthReport {
  ok: boolean;
  /** Why not, when `ok` is false: shown in the 503 body of /healthz. */
  reason?: string;
}

/**
 * What the admin HTTP server needs from a node. The ActorSystem satisfies it; tests pass a
 * fake, so the server is tested without threads. Both calls may be slow (they ask every
 * worker thread) and the server bounds them with its own timeout.
 */
export interface AdminSource {
  listActors(): Promise<ActorStats[]>;
  health(): Promise<HealthReport>;
  /** The broker's store (`GET /api/store`); undefined on a node without one (a nameserver). */
  storeView?: () => StoreView;
  /** Restarts one actor as its supervisor would (the inspector's restart button); false when
   *  no running actor has that address. */
  restartActor?: (address: string) => Promise<boolean>;
}
