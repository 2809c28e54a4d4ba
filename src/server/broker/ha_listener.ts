import type { Store } from '../../actors/store/store.js';
import { formatHostPort, type BrokerConfig, type StandaloneConfig } from '../config.js';
import type { Listener } from '../role.js';

/**
 * The broker's HA port, as the node sees it: the replicator actor (on the CommitLog writer's
 * thread) owns the socket; this asks it to listen and says where. Every broker opens it — a
 * slave's answers slaves with NOT_MASTER until it is promoted. The port closes with the
 * store (the replicator stops with it).
 */
export interface HaListener extends Listener {
  /** The advertised HA `host:port` once listening, '' before. */
  readonly address: string;
}

export function haListener(config: BrokerConfig | StandaloneConfig, store: Store): HaListener {
  let address = '';
  return {
    key: 'ha',
    get address() {
      return address;
    },
    async start() {
      const status = await store.replicator.ask({ kind: 'listen', host: config.host, port: config.haPort });
      address = formatHostPort({ host: config.advertiseHost, port: status.ha_port });
      return { host: config.host, port: status.ha_port };
    },
    async stop() {
      // The replicator closes the port when the store closes.
    },
  };
}
