import {
  decodeAllConsumerOffset,
  decodeGetConsumerListResponse,
  encodeGetAllConsumerOffsetRequest,
  encodeGetConsumerListRequest,
  master_broker_id,
  request_codes,
} from '../protocol/index.js';
import { MqError } from '../runtime/errors.js';
import type { ClusterView, GroupLag } from './admin_views.js';

export const admin_group_limits = {
  /** Groups one listing describes (each costs a lag scan); the rest are counted. */
  groups_max: 200,
} as const;

/** One consumer group as the inspector shows it. */
export interface GroupView {
  group: string;
  /** Client ids of its live members, as the master brokers see them. */
  members: string[];
  lag: GroupLag;
}

export interface GroupListing {
  groups: GroupView[];
  /** Groups beyond groups_max, not described. */
  groupsLeftOut: number;
}

/** What a group listing needs from Admin. */
export interface GroupListDeps {
  cluster(): Promise<ClusterView>;
  brokerRequest(address: string, code: number, body: Uint8Array): Promise<Uint8Array>;
  groupLag(group: string): Promise<GroupLag>;
}

/**
 * Every consumer group that committed an offset on a master broker (brokers keep no other
 * list of groups), with its live members and its lag per queue, sorted by name. Retry and
 * dead-letter bookkeeping groups (names starting with `%`) are left out.
 */
export async function listGroups(deps: GroupListDeps): Promise<GroupListing> {
  const masters = (await deps.cluster()).groups.flatMap((group) => group.members.filter((member) => member.brokerId === Number(master_broker_id)).map((member) => member.address));
  const names = new Set<string>();
  for (const address of masters) {
    const offsets = decodeAllConsumerOffset(await deps.brokerRequest(address, request_codes.GET_ALL_CONSUMER_OFFSET, encodeGetAllConsumerOffsetRequest({})));
    if (!offsets.ok) throw new MqError('INTERNAL', `unreadable consumer offsets from ${address}: ${offsets.error.message}`);
    for (const entry of offsets.value.entries) if (!entry.group.startsWith('%')) names.add(entry.group);
  }
  const sorted = [...names].sort();
  const groups: GroupView[] = [];
  for (const group of sorted.slice(0, admin_group_limits.groups_max)) {
    const members = new Set<string>();
    for (const address of masters) {
      const list = decodeGetConsumerListResponse(await deps.brokerRequest(address, request_codes.GET_CONSUMER_LIST, encodeGetConsumerListRequest({ group })));
      if (list.ok) for (const client of list.value.clientIds) members.add(client);
    }
    groups.push({ group, members: [...members].sort(), lag: await deps.groupLag(group) });
  }
  return { groups, groupsLeftOut: Math.max(0, sorted.length - admin_group_limits.groups_max) };
}
