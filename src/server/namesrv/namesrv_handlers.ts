import { asBuffer, clusterInfoForVersion, request_codes } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { RequestRouter } from '../remoting/request_router.js';
import type { ServerConnection } from '../remoting/server_connection.js';
import type { NamesrvCluster } from './cluster/namesrv_cluster.js';
import type { RegistryClient } from './registry_client.js';

/**
 * The nameserver's own requests. Writes go to the cluster (applied here when this node
 * leads, else forwarded to the leader); reads are answered from this node's registry (in
 * chain mode by the tail). Bodies pass as they arrived: the registry actor decodes and
 * validates them (the body is a view into the frame; the hand-off to the actor's thread is
 * its one copy).
 */
export function addNamesrvHandlers(router: RequestRouter, cluster: NamesrvCluster, registry: RegistryClient, connectionId: (connection: ServerConnection) => string): RequestRouter {
  const write = (code: number) => (body: Uint8Array, { connection }: { connection: ServerConnection }) =>
    cluster.write({ code, connection_id: connectionId(connection), body: asBuffer(body) });
  return router
    .on(request_codes.REGISTER_BROKER, write(request_codes.REGISTER_BROKER))
    .on(request_codes.BROKER_HEARTBEAT, write(request_codes.BROKER_HEARTBEAT))
    .on(request_codes.UNREGISTER_BROKER, write(request_codes.UNREGISTER_BROKER))
    .on(request_codes.DELETE_TOPIC_IN_NAMESRV, write(request_codes.DELETE_TOPIC_IN_NAMESRV))
    .on(request_codes.GET_ROUTE, (body) => cluster.read(request_codes.GET_ROUTE, asBuffer(body), () => registry.query({ kind: 'get_route', body: asBuffer(body) })))
    .on(request_codes.GET_CLUSTER_INFO, async (body, { connection }) => {
      const newest = await cluster.read(request_codes.GET_CLUSTER_INFO, asBuffer(body), () => registry.query({ kind: 'get_cluster_info', body: asBuffer(body) }));
      const answer = clusterInfoForVersion(newest, connection.protocol_version);
      if (!answer.ok) throw new MqError('INTERNAL', `the registry's cluster info does not decode: ${answer.error.message}`);
      return answer.value;
    })
    .on(request_codes.GET_TOPIC_LIST, (body) =>
      cluster.read(request_codes.GET_TOPIC_LIST, asBuffer(body), () => registry.query({ kind: 'get_topic_list', body: asBuffer(body) })),
    );
}
