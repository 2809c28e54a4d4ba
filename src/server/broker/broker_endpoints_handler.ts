import { decodeGetBrokerEndpointsRequest, encodeBrokerEndpoints } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { BrokerContext } from './broker_context.js';

/**
 * GET_BROKER_ENDPOINTS: this broker's name, its id now (a promoted slave answers 0) and its
 * gRPC address, for another broker's RocketMQ 5 routes (grpc/cluster_routes.ts).
 */
export function brokerEndpointsHandler(context: BrokerContext, broker_id: () => number): (body: Uint8Array) => Uint8Array {
  return (body) => {
    const request = decodeGetBrokerEndpointsRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `GET_BROKER_ENDPOINTS body: ${request.error.message}`);
    return encodeBrokerEndpoints({ brokerName: context.broker_name, brokerId: broker_id(), grpcAddress: context.grpc_address });
  };
}
