/**
 * GET_CLUSTER_INFO: every broker a nameserver knows, grouped by broker group, with what the
 * admin tools show (addresses, epoch, data version, last heartbeat). `dataVersion` is the
 * nameserver's global registry version: it grows with every change of any route or broker,
 * so a poller can tell "nothing changed" without comparing the lists.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const cluster_info_protocol_version = 1;

/** Empty in version 1; a record so that later versions can add filters. */
export type GetClusterInfoRequest = Record<string, never>;

export interface BrokerMemberInfo {
  /** 0 for the master, > 0 for slaves. */
  brokerId: number;
  /** `host:port` clients connect to. */
  address: string;
  /** `host:port` slaves replicate from. */
  haAddress: string;
  epoch: number;
  /** The broker's topic-config version at its last registration. */
  dataVersion: number;
  /** Wall-clock time of its last registration or heartbeat (ms since the epoch). */
  lastHeartbeatMs: number;
}

export interface BrokerGroupInfo {
  cluster: string;
  brokerName: string;
  /** Sorted by brokerId. */
  members: BrokerMemberInfo[];
}

export interface ClusterInfo {
  dataVersion: number;
  /** Sorted by cluster, then brokerName. */
  groups: BrokerGroupInfo[];
}

export const get_cluster_info_request_v1 = defineCodec<GetClusterInfoRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetClusterInfoRequest', fields: [] },
});

export const cluster_info_v1 = defineCodec<ClusterInfo>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'ClusterInfo',
    fields: [
      { name: 'dataVersion', type: 'long' },
      {
        name: 'groups',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'BrokerGroupInfo',
            fields: [
              { name: 'cluster', type: 'string' },
              { name: 'brokerName', type: 'string' },
              {
                name: 'members',
                type: {
                  type: 'array',
                  items: {
                    type: 'record',
                    name: 'BrokerMemberInfo',
                    fields: [
                      { name: 'brokerId', type: 'long' },
                      { name: 'address', type: 'string' },
                      { name: 'haAddress', type: 'string' },
                      { name: 'epoch', type: 'long' },
                      { name: 'dataVersion', type: 'long' },
                      { name: 'lastHeartbeatMs', type: 'long' },
                    ],
                  },
                },
              },
            ],
          },
        },
      },
    ],
  },
});

export const GetClusterInfoRequestType = get_cluster_info_request_v1.type;
export const ClusterInfoType = cluster_info_v1.type;

export function encodeGetClusterInfoRequest(value: GetClusterInfoRequest): Buffer {
  return get_cluster_info_request_v1.encode(value);
}
export function decodeGetClusterInfoRequest(bytes: Uint8Array): Result<GetClusterInfoRequest> {
  return get_cluster_info_request_v1.decode(bytes);
}
export function encodeClusterInfo(value: ClusterInfo): Buffer {
  return cluster_info_v1.encode(value);
}
export function decodeClusterInfo(bytes: Uint8Array): Result<ClusterInfo> {
  return cluster_info_v1.decode(bytes);
}
