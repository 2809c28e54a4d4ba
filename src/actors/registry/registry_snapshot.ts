import avro from 'avsc';

/**
 * The whole registry as plain data: what a follower installs when it cannot catch up from
 * the log, and what the journal keeps so the log need not grow forever. Lists keep the
 * registry's own iteration order, so a restored registry walks its brokers and topics in the
 * order the original did, and replicas stay identical after further commands.
 */
export interface RegistryState {
  dataVersion: number;
  eventSeq: number;
  groups: GroupState[];
  topics: TopicState[];
}

export interface GroupState {
  cluster: string;
  brokerName: string;
  epoch: number;
  inSyncSlaves: number[];
  /** The promoted slave's id, or -1. */
  candidate: number;
  members: MemberState[];
  topics: Array<{ topic: string; readQueues: number; writeQueues: number; perm: number }>;
}

export interface MemberState {
  brokerId: number;
  address: string;
  haAddress: string;
  epoch: number;
  dataVersion: number;
  maxOffset: number;
  connectionId: string;
  heardMonotonicMs: number;
  heardWallMs: number;
}

export interface TopicState {
  topic: string;
  routeVersion: number;
  groups: string[];
}

/** A snapshot: the state after the log entry (`seq`, `term`). */
export interface RegistrySnapshot {
  seq: number;
  term: number;
  state: RegistryState;
}

const snapshot_type = avro.Type.forSchema({
  type: 'record',
  name: 'RegistrySnapshot',
  fields: [
    { name: 'seq', type: 'long' },
    { name: 'term', type: 'long' },
    {
      name: 'state',
      type: {
        type: 'record',
        name: 'RegistryState',
        fields: [
          { name: 'dataVersion', type: 'long' },
          { name: 'eventSeq', type: 'long' },
          {
            name: 'groups',
            type: {
              type: 'array',
              items: {
                type: 'record',
                name: 'GroupState',
                fields: [
                  { name: 'cluster', type: 'string' },
                  { name: 'brokerName', type: 'string' },
                  { name: 'epoch', type: 'long' },
                  { name: 'inSyncSlaves', type: { type: 'array', items: 'int' } },
                  { name: 'candidate', type: 'int' },
                  {
                    name: 'members',
                    type: {
                      type: 'array',
                      items: {
                        type: 'record',
                        name: 'MemberState',
                        fields: [
                          { name: 'brokerId', type: 'int' },
                          { name: 'address', type: 'string' },
                          { name: 'haAddress', type: 'string' },
                          { name: 'epoch', type: 'long' },
                          { name: 'dataVersion', type: 'long' },
                          { name: 'maxOffset', type: 'long' },
                          { name: 'connectionId', type: 'string' },
                          { name: 'heardMonotonicMs', type: 'double' },
                          { name: 'heardWallMs', type: 'long' },
                        ],
                      },
                    },
                  },
                  {
                    name: 'topics',
                    type: {
                      type: 'array',
                      items: {
                        type: 'record',
                        name: 'GroupTopicState',
                        fields: [
                          { name: 'topic', type: 'string' },
                          { name: 'readQueues', type: 'int' },
                          { name: 'writeQueues', type: 'int' },
                          { name: 'perm', type: 'int' },
                        ],
                      },
                    },
                  },
                ],
              },
            },
          },
          {
            name: 'topics',
            type: {
              type: 'array',
              items: {
                type: 'record',
                name: 'TopicState',
                fields: [
                  { name: 'topic', type: 'string' },
                  { name: 'routeVersion', type: 'long' },
                  { name: 'groups', type: { type: 'array', items: 'string' } },
                ],
              },
            },
          },
        ],
      },
    },
  ],
} as avro.Schema);

export function encodeRegistrySnapshot(snapshot: RegistrySnapshot): Buffer {
  return snapshot_type.toBuffer(snapshot);
}

/** Throws on bytes that are not a snapshot (they come from this node's disk or its upstream). */
export function decodeRegistrySnapshot(bytes: Buffer): RegistrySnapshot {
  return snapshot_type.fromBuffer(bytes) as RegistrySnapshot;
}
