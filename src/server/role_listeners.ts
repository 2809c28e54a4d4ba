import type { NodeConfig } from './config.js';
import type { Listener, NodeSystem } from './role.js';

/**
 * The network listeners of each role, started in this order after the actor system:
 *
 *   namesrv     namesrv (config.port)
 *   broker      broker (config.port), ha (config.haPort)
 *   standalone  namesrv (config.namesrvPort), broker (config.port), ha (config.haPort)
 *
 * The TCP servers behind them are not written yet, so every role has none for now and its
 * ready line lists only `admin`; each server plugs in here as a Listener when it exists.
 */
export function listenersForRole(config: NodeConfig, system: NodeSystem): Listener[] {
  void system;
  switch (config.role) {
    case 'namesrv':
    case 'broker':
    case 'standalone':
      return [];
  }
}
