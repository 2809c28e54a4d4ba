import {
  decodeAclChangeResponse,
  decodeAclListResponse,
  encodeAclDeleteAccountRequest,
  encodeAclListRequest,
  encodeAclUpdateAccountRequest,
  request_codes,
  type AclAccountRecord,
} from '../protocol/index.js';
import { MqError, toMqError } from '../runtime/errors.js';
import type { ClusterView } from './admin_views.js';

/** An ACL account as Admin takes and shows it (a listing leaves `secretKey` out). */
export interface AclAccount {
  accessKey: string;
  secretKey?: string;
  admin?: boolean;
  allowAddresses?: string[];
  defaultTopicPerm?: 'DENY' | 'PUB' | 'SUB' | 'PUB|SUB';
  defaultGroupPerm?: 'DENY' | 'SUB';
  topicPerms?: Record<string, 'DENY' | 'PUB' | 'SUB' | 'PUB|SUB'>;
  groupPerms?: Record<string, 'DENY' | 'SUB'>;
  /** What the account may hold of each node at once, in place of the node's defaults. */
  limits?: { connections?: number; requestsInFlight?: number; heldPulls?: number; requestBytes?: number };
}

/** One node's answer to an ACL request: its accounts (a listing), or why it failed. */
export interface AclNodeOutcome {
  /** `namesrv` or a broker `<brokerName>/<brokerId>`. */
  node: string;
  address: string;
  accounts: AclAccount[] | null;
  error: string | null;
}

export interface AclDeps {
  cluster(): Promise<ClusterView>;
  namesrvAddresses: readonly string[];
  request(address: string, code: number, body: Uint8Array): Promise<Uint8Array>;
}

/**
 * Every node that keeps an ACL: each configured nameserver and each broker the nameservers
 * know (masters and slaves: a slave serves reads and needs the same accounts). Each node has
 * its own file; an edit goes to all of them, and each answers for itself.
 */
async function aclNodes(deps: AclDeps): Promise<Array<{ node: string; address: string }>> {
  const nodes = deps.namesrvAddresses.map((address) => ({ node: 'namesrv', address }));
  const cluster = await deps.cluster();
  for (const group of cluster.groups) for (const member of group.members) nodes.push({ node: `${group.brokerName}/${member.brokerId}`, address: member.address });
  return nodes;
}

async function onEveryNode(deps: AclDeps, code: number, body: Uint8Array, read: (reply: Uint8Array) => AclAccount[] | null): Promise<AclNodeOutcome[]> {
  const nodes = await aclNodes(deps);
  return Promise.all(nodes.map(async ({ node, address }) => {
    try {
      return { node, address, accounts: read(await deps.request(address, code, body)), error: null };
    } catch (thrown) {
      const error = toMqError(thrown);
      if (error.code === 'SHUTTING_DOWN' && !error.retriable) throw error;
      return { node, address, accounts: null, error: `${error.code}: ${error.message}` };
    }
  }));
}

export function listAcl(deps: AclDeps): Promise<AclNodeOutcome[]> {
  return onEveryNode(deps, request_codes.ACL_LIST, encodeAclListRequest({}), (reply) => {
    const decoded = decodeAclListResponse(reply);
    if (!decoded.ok) throw new MqError('INTERNAL', `unreadable ACL_LIST reply: ${decoded.error.message}`);
    return decoded.value.accounts.map(accountOf);
  });
}

export function upsertAclAccount(deps: AclDeps, account: AclAccount): Promise<AclNodeOutcome[]> {
  if (typeof account.secretKey !== 'string') throw new MqError('BAD_REQUEST', `account ${account.accessKey} needs its secretKey`);
  const record: AclAccountRecord = {
    accessKey: account.accessKey,
    secretKey: account.secretKey,
    admin: account.admin ?? false,
    allowAddresses: [...(account.allowAddresses ?? [])],
    defaultTopicPerm: account.defaultTopicPerm ?? 'DENY',
    defaultGroupPerm: account.defaultGroupPerm ?? 'DENY',
    topicPerms: { ...(account.topicPerms ?? {}) },
    groupPerms: { ...(account.groupPerms ?? {}) },
    limits: { ...(account.limits ?? {}) } as Record<string, number>,
  };
  return onEveryNode(deps, request_codes.ACL_UPDATE_ACCOUNT, encodeAclUpdateAccountRequest({ account: record }), changed);
}

export function deleteAclAccount(deps: AclDeps, access_key: string): Promise<AclNodeOutcome[]> {
  return onEveryNode(deps, request_codes.ACL_DELETE_ACCOUNT, encodeAclDeleteAccountRequest({ accessKey: access_key }), changed);
}

function changed(reply: Uint8Array): null {
  const decoded = decodeAclChangeResponse(reply);
  if (!decoded.ok) throw new MqError('INTERNAL', `unreadable ACL change reply: ${decoded.error.message}`);
  return null;
}

function accountOf(record: AclAccountRecord): AclAccount {
  return {
    accessKey: record.accessKey,
    admin: record.admin,
    allowAddresses: [...record.allowAddresses],
    defaultTopicPerm: record.defaultTopicPerm as AclAccount['defaultTopicPerm'],
    defaultGroupPerm: record.defaultGroupPerm as AclAccount['defaultGroupPerm'],
    topicPerms: { ...record.topicPerms } as AclAccount['topicPerms'],
    groupPerms: { ...record.groupPerms } as AclAccount['groupPerms'],
    ...(Object.keys(record.limits).length === 0 ? {} : { limits: { ...record.limits } }),
  };
}
