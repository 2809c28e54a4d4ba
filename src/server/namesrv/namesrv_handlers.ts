import { asBuffer, request_codes } from '../../protocol/index.js';
import type { RequestRouter } from '../remoting/request_router.js';
import type { ServerConnection } from '../remoting/server_connection.js';
import type { RegistryClient } from './registry_client.js';

/**
 * The nameserver's own requests. Each handler passes the request body as it arrived to the
 * registry actor, which decodes, validates and answers with the encoded response (the body
 * is a view into the frame; the hand-off to the actor's thread is its one copy).
 */
export function addNamesrvHandlers(router: RequestRouter, registry: RegistryClient, connectionId: (connection: ServerConnection) => string): RequestRouter {
  return router
    .on(request_codes.REGISTER_BROKER, (body, { connection }) =>
      registry.change({ kind: 'register_broker', connection_id: connectionId(connection), body: asBuffer(body) }),
    )
    // A heartbeat changes no route (an unknown broker is told to register): it need not
    // wait behind changes.
    .on(request_codes.BROKER_HEARTBEAT, (body, { connection }) =>
      registry.query({ kind: 'broker_heartbeat', connection_id: connectionId(connection), body: asBuffer(body) }),
    )
    .on(request_codes.UNREGISTER_BROKER, (body) => registry.change({ kind: 'unregister_broker', body: asBuffer(body) }))
    .on(request_codes.GET_ROUTE, (body) => registry.query({ kind: 'get_route', body: asBuffer(body) }))
    .on(request_codes.GET_CLUSTER_INFO, (body) => registry.query({ kind: 'get_cluster_info', body: asBuffer(body) }))
    .on(request_codes.GET_TOPIC_LIST, (body) => registry.query({ kind: 'get_topic_list', body: asBuffer(body) }))
    .on(request_codes.DELETE_TOPIC_IN_NAMESRV, (body) => registry.change({ kind: 'delete_topic', body: asBuffer(body) }));
}
