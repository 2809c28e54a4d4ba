import { assert } from '../runtime/assert.js';
import { brokerListener } from './broker/broker_listener.js';
import { formatHostPort, type NodeConfig } from './config.js';
import type { Listener, NodeSystem } from './role.js';

/**
 * The network listeners of each role, started in this order after the actor system:
 *
 *   namesrv     namesrv (config.port)
 *   broker      broker (config.port)
 *   standalone  namesrv (config.namesrvPort), broker (config.port)
 *
 * The nameserver and HA listeners plug in here as they are written.
 */
export function listenersForRole(config: NodeConfig, system: NodeSystem): Listener[] {
  switch (config.role) {
    case 'namesrv':
      return [];
    case 'broker': {
      assert(system.store !== undefined, 'a broker node runs a store');
      const namesrv = config.namesrv.map((address) => formatHostPort(address));
      return [brokerListener({ config, store: system.store, namesrv_addresses: () => namesrv })];
    }
    case 'standalone': {
      assert(system.store !== undefined, 'a standalone node runs a store');
      return [brokerListener({ config, store: system.store, namesrv_addresses: () => [] })];
    }
  }
}
