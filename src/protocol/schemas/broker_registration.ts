/**
 * REGISTER_BROKER, BROKER_HEARTBEAT and UNREGISTER_BROKER: how a broker tells the namesrv
 * that it serves, which topics it holds, and that it leaves.
 *
 * A broker registers in full (with its topic configs) at start and whenever its
 * `dataVersion` changes; in between it sends the light BROKER_HEARTBEAT. The namesrv
 * answers a heartbeat with `registrationNeeded` when it does not know the broker at that
 * data version (it restarted, or missed a change), and the broker then registers in full.
 * `epoch` is the broker group's master epoch: after a failover the promoted slave's higher
 * epoch fences registrations from the old master.
 *
 * Failover: every broker reports its CommitLog end (`maxOffset`), a master also the slaves
 * in sync with it. When a group's master is gone, the nameserver picks the slave with the
 * highest end (in sync first), raises the group's epoch and answers that slave `master:
 * true`; the slave promotes itself and registers as id 0 with the new epoch. An answer's
 * `master` is also how a starting master learns it may take writes.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const broker_registration_protocol_version = 1;

export interface TopicConfig {
  topic: string;
  readQueues: number;
  writeQueues: number;
  /** Bit set of perm_read / perm_write / perm_inherit (route.ts). */
  perm: number;
}

export interface BrokerIdentity {
  cluster: string;
  brokerName: string;
  /** 0 for the master, > 0 for slaves. */
  brokerId: number;
  /** `host:port` clients connect to. */
  address: string;
}

/** What a broker reports of its replication with every registration and heartbeat. */
export interface ReplicationReport {
  /** The end of its CommitLog. */
  maxOffset: number;
  /** A master: the ids of the slaves in sync with it (empty for a slave). */
  inSyncSlaves: number[];
}

export interface RegisterBrokerRequest extends BrokerIdentity, ReplicationReport {
  /** `host:port` slaves replicate from. */
  haAddress: string;
  epoch: number;
  /** Grows whenever the broker's topic configs change. */
  dataVersion: number;
  topics: TopicConfig[];
}

/** What the nameserver says of the group's master, in answer to a registration or heartbeat. */
export interface MasterView {
  /** The group's master `host:port` as the namesrv knows it (for a slave), or null. */
  masterAddress: string | null;
  /** The master's HA `host:port` (for a slave to replicate from), or null. */
  masterHaAddress: string | null;
  /** The group's master epoch. */
  epoch: number;
  /** This broker is the group's master at `epoch` (or is to be: a promoted slave). */
  master: boolean;
}

export type RegisterBrokerResponse = MasterView;

export interface BrokerHeartbeatRequest extends BrokerIdentity, ReplicationReport {
  epoch: number;
  dataVersion: number;
}

export interface BrokerHeartbeatResponse extends MasterView {
  /** True when the broker must send a full REGISTER_BROKER. */
  registrationNeeded: boolean;
}

export type UnregisterBrokerRequest = BrokerIdentity;

/** Empty in version 1; a record so that later versions can add fields. */
export type UnregisterBrokerResponse = Record<string, never>;

const identity_fields = [
  { name: 'cluster', type: 'string' },
  { name: 'brokerName', type: 'string' },
  { name: 'brokerId', type: 'long' },
  { name: 'address', type: 'string' },
];

const master_fields = [
  { name: 'masterAddress', type: ['null', 'string'], default: null },
  { name: 'masterHaAddress', type: ['null', 'string'], default: null },
  { name: 'epoch', type: 'long' },
  { name: 'master', type: 'boolean' },
];

/** The Avro record of a TopicConfig (also in GET_ALL_TOPIC_CONFIG's answer). */
export const topic_config_schema = {
  type: 'record',
  name: 'TopicConfig',
  fields: [
    { name: 'topic', type: 'string' },
    { name: 'readQueues', type: 'int' },
    { name: 'writeQueues', type: 'int' },
    { name: 'perm', type: 'int' },
  ],
} as const;

const replication_fields = [
  { name: 'maxOffset', type: 'long' },
  { name: 'inSyncSlaves', type: { type: 'array', items: 'long' } },
];

export const register_broker_request_v1 = defineCodec<RegisterBrokerRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'RegisterBrokerRequest',
    fields: [
      ...identity_fields,
      { name: 'haAddress', type: 'string' },
      { name: 'epoch', type: 'long' },
      { name: 'dataVersion', type: 'long' },
      { name: 'topics', type: { type: 'array', items: topic_config_schema } },
      ...replication_fields,
    ],
  },
});

export const register_broker_response_v1 = defineCodec<RegisterBrokerResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'RegisterBrokerResponse', fields: master_fields },
});

export const broker_heartbeat_request_v1 = defineCodec<BrokerHeartbeatRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'BrokerHeartbeatRequest',
    fields: [...identity_fields, { name: 'epoch', type: 'long' }, { name: 'dataVersion', type: 'long' }, ...replication_fields],
  },
});

export const broker_heartbeat_response_v1 = defineCodec<BrokerHeartbeatResponse>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'BrokerHeartbeatResponse',
    fields: [{ name: 'registrationNeeded', type: 'boolean' }, ...master_fields],
  },
});

export const unregister_broker_request_v1 = defineCodec<UnregisterBrokerRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'UnregisterBrokerRequest', fields: identity_fields },
});

export const unregister_broker_response_v1 = defineCodec<UnregisterBrokerResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'UnregisterBrokerResponse', fields: [] },
});

export const RegisterBrokerRequestType = register_broker_request_v1.type;
export const RegisterBrokerResponseType = register_broker_response_v1.type;
export const BrokerHeartbeatRequestType = broker_heartbeat_request_v1.type;
export const BrokerHeartbeatResponseType = broker_heartbeat_response_v1.type;
export const UnregisterBrokerRequestType = unregister_broker_request_v1.type;
export const UnregisterBrokerResponseType = unregister_broker_response_v1.type;

export function encodeRegisterBrokerRequest(value: RegisterBrokerRequest): Buffer {
  return register_broker_request_v1.encode(value);
}
export function decodeRegisterBrokerRequest(bytes: Uint8Array): Result<RegisterBrokerRequest> {
  return register_broker_request_v1.decode(bytes);
}
export function encodeRegisterBrokerResponse(value: RegisterBrokerResponse): Buffer {
  return register_broker_response_v1.encode(value);
}
export function decodeRegisterBrokerResponse(bytes: Uint8Array): Result<RegisterBrokerResponse> {
  return register_broker_response_v1.decode(bytes);
}
export function encodeBrokerHeartbeatRequest(value: BrokerHeartbeatRequest): Buffer {
  return broker_heartbeat_request_v1.encode(value);
}
export function decodeBrokerHeartbeatRequest(bytes: Uint8Array): Result<BrokerHeartbeatRequest> {
  return broker_heartbeat_request_v1.decode(bytes);
}
export function encodeBrokerHeartbeatResponse(value: BrokerHeartbeatResponse): Buffer {
  return broker_heartbeat_response_v1.encode(value);
}
export function decodeBrokerHeartbeatResponse(bytes: Uint8Array): Result<BrokerHeartbeatResponse> {
  return broker_heartbeat_response_v1.decode(bytes);
}
export function encodeUnregisterBrokerRequest(value: UnregisterBrokerRequest): Buffer {
  return unregister_broker_request_v1.encode(value);
}
export function decodeUnregisterBrokerRequest(bytes: Uint8Array): Result<UnregisterBrokerRequest> {
  return unregister_broker_request_v1.decode(bytes);
}
export function encodeUnregisterBrokerResponse(value: UnregisterBrokerResponse): Buffer {
  return unregister_broker_response_v1.encode(value);
}
export function decodeUnregisterBrokerResponse(bytes: Uint8Array): Result<UnregisterBrokerResponse> {
  return unregister_broker_response_v1.decode(bytes);
}
