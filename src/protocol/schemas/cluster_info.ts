/**
 * GET_CLUSTER_INFO: every broker a nameserver knows, grouped by broker group, with what the
 * admin tools show (addresses, epoch, data version, last heartbeat). `dataVersion` is the
 * nameserver's global registry version: it grows with every change of any route or broker,
 * so a poller can tell "nothing changed" without comparing the lists.
 *
 * Version 2 adds each broker's CommitLog end at its last report (`maxOffset`) and, for a
 * slave, whether its master counts it in sync (`inSync`): with both, an operator sees how far
 * each slave is behind without asking the brokers.
 */
import { defineCodec } from '../avro_codec.js';
import { ok, type Result } from '../protocol_error.js';

export const cluster_info_protocol_version = 2;

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
  /** Version 2: its CommitLog end at its last report (0 from a version 1 server). */
  maxOffset: number;
  /** Version 2: a slave its master reported in sync; false for a master. */
  inSync: boolean;
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

const member_fields_v1 = [
  { name: 'brokerId', type: 'long' },
  { name: 'address', type: 'string' },
  { name: 'haAddress', type: 'string' },
  { name: 'epoch', type: 'long' },
  { name: 'dataVersion', type: 'long' },
  { name: 'lastHeartbeatMs', type: 'long' },
];

function clusterInfoSchema(member_fields: object[]): object {
  return {
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
              { name: 'members', type: { type: 'array', items: { type: 'record', name: 'BrokerMemberInfo', fields: member_fields } } },
            ],
          },
        },
      },
    ],
  };
}

/** Version 1 has neither `maxOffset` nor `inSync`: encoding drops them, decoding gives 0 and false. */
export const cluster_info_v1 = defineCodec<ClusterInfo>({
  protocol_version: 1,
  schema: clusterInfoSchema(member_fields_v1),
});

export const cluster_info_v2 = defineCodec<ClusterInfo>({
  protocol_version: 2,
  schema: clusterInfoSchema([...member_fields_v1, { name: 'maxOffset', type: 'long' }, { name: 'inSync', type: 'boolean' }]),
});

export const GetClusterInfoRequestType = get_cluster_info_request_v1.type;
export const ClusterInfoType = cluster_info_v2.type;

export function encodeGetClusterInfoRequest(value: GetClusterInfoRequest): Buffer {
  return get_cluster_info_request_v1.encode(value);
}
export function decodeGetClusterInfoRequest(bytes: Uint8Array): Result<GetClusterInfoRequest> {
  return get_cluster_info_request_v1.decode(bytes);
}
/** Encodes for a connection of `protocol_version`. */
export function encodeClusterInfo(value: ClusterInfo, protocol_version: number): Buffer {
  return protocol_version >= 2 ? cluster_info_v2.encode(value) : cluster_info_v1.encode(value);
}
/**
 * Cluster info a registry wrote in the newest version, for a connection of `protocol_version`:
 * the same bytes when it speaks the newest, else decoded and written again in its version.
 */
export function clusterInfoForVersion(newest: Uint8Array, protocol_version: number): Result<Uint8Array> {
  if (protocol_version >= cluster_info_protocol_version) return ok(newest);
  const decoded = cluster_info_v2.decode(newest);
  return decoded.ok ? ok(encodeClusterInfo(decoded.value, protocol_version)) : decoded;
}

/** Decodes what a server of `protocol_version` sent; version 1 members get maxOffset 0, inSync false. */
export function decodeClusterInfo(bytes: Uint8Array, protocol_version: number): Result<ClusterInfo> {
  if (protocol_version >= 2) return cluster_info_v2.decode(bytes);
  const decoded = cluster_info_v1.decode(bytes);
  if (!decoded.ok) return decoded;
  const groups = decoded.value.groups.map((group) => ({ ...group, members: group.members.map((member) => ({ ...member, maxOffset: 0, inSync: false })) }));
  return ok({ ...decoded.value, groups });
}
