import { ActorSystem, type ActorSystemOptions } from '../../src/runtime/actor_system.js';
import { lean_worker_exec_argv } from './tap_hooks.js';

/** ActorSystem.start with worker threads free of tap's module hooks (tap_hooks.ts says why). */
export function startActorSystem(options: ActorSystemOptions = {}): Promise<ActorSystem> {
  return ActorSystem.start({ worker_exec_argv: lean_worker_exec_argv, ...options });
}
