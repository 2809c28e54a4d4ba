/**
 * GET_BROKER_ENDPOINTS (protocol version 3): the endpoints a broker serves besides its client
 * port, asked by another broker. A broker's RocketMQ 5 gRPC endpoint answers a QueryRoute with
 * every master that serves the topic, each with its own gRPC address; the nameserver knows
 * brokers by their client-port address only, so the gRPC address is asked of the broker there.
 *
 * The answer names the broker, so the asker can tell that the address still belongs to the
 * group the route named (after a failover another broker may listen there).
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const broker_endpoints_protocol_version = 3;

export type GetBrokerEndpointsRequest = Record<string, never>;

export interface BrokerEndpoints {
  brokerName: string;
  brokerId: number;
  /** `host:port` of its RocketMQ 5 gRPC endpoint, or null when it serves none (yet). */
  grpcAddress: string | null;
}

export const get_broker_endpoints_request_v3 = defineCodec<GetBrokerEndpointsRequest>({
  protocol_version: 3,
  schema: { type: 'record', name: 'GetBrokerEndpointsRequest', fields: [] },
});

export const broker_endpoints_v3 = defineCodec<BrokerEndpoints>({
  protocol_version: 3,
  schema: {
    type: 'record',
    name: 'BrokerEndpoints',
    fields: [
      { name: 'brokerName', type: 'string' },
      { name: 'brokerId', type: 'long' },
      { name: 'grpcAddress', type: ['null', 'string'], default: null },
    ],
  },
});

export function encodeGetBrokerEndpointsRequest(value: GetBrokerEndpointsRequest): Buffer {
  return get_broker_endpoints_request_v3.encode(value);
}
export function decodeGetBrokerEndpointsRequest(bytes: Uint8Array): Result<GetBrokerEndpointsRequest> {
  return get_broker_endpoints_request_v3.decode(bytes);
}
export function encodeBrokerEndpoints(value: BrokerEndpoints): Buffer {
  return broker_endpoints_v3.encode(value);
}
export function decodeBrokerEndpoints(bytes: Uint8Array): Result<BrokerEndpoints> {
  return broker_endpoints_v3.decode(bytes);
}
