/**
 * ACL administration (protocol 2), answered by every broker and nameserver that runs access
 * control (--acl-file); admin accounts only:
 *
 *   ACL_UPDATE_ACCOUNT  adds or replaces one account (RocketMQ's UPDATE_AND_CREATE_ACL_CONFIG)
 *   ACL_DELETE_ACCOUNT  removes one account
 *   ACL_LIST            the accounts, secret keys left out
 *
 * The node writes its ACL file and applies the change to the next request.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const acl_admin_protocol_version = 2;

export interface AclAccountRecord {
  accessKey: string;
  /** Given with ACL_UPDATE_ACCOUNT; empty in ACL_LIST answers. */
  secretKey: string;
  admin: boolean;
  allowAddresses: string[];
  defaultTopicPerm: string;
  defaultGroupPerm: string;
  topicPerms: Record<string, string>;
  groupPerms: Record<string, string>;
  /** The account's own limits by their ACL-file names (auth/acl.ts AccountLimits); empty: the node's. */
  limits: Record<string, number>;
}

export interface AclUpdateAccountRequest {
  account: AclAccountRecord;
}
export interface AclDeleteAccountRequest {
  accessKey: string;
}
export type AclListRequest = Record<string, never>;
export interface AclListResponse {
  accounts: AclAccountRecord[];
}
export type AclChangeResponse = Record<string, never>;

const account_schema = {
  type: 'record',
  name: 'AclAccount',
  fields: [
    { name: 'accessKey', type: 'string' },
    { name: 'secretKey', type: 'string' },
    { name: 'admin', type: 'boolean' },
    { name: 'allowAddresses', type: { type: 'array', items: 'string' } },
    { name: 'defaultTopicPerm', type: 'string' },
    { name: 'defaultGroupPerm', type: 'string' },
    { name: 'topicPerms', type: { type: 'map', values: 'string' } },
    { name: 'groupPerms', type: { type: 'map', values: 'string' } },
    { name: 'limits', type: { type: 'map', values: 'long' } },
  ],
};

export const acl_update_account_request_v2 = defineCodec<AclUpdateAccountRequest>({
  protocol_version: 2,
  schema: { type: 'record', name: 'AclUpdateAccountRequest', fields: [{ name: 'account', type: account_schema }] },
});
export const acl_delete_account_request_v2 = defineCodec<AclDeleteAccountRequest>({
  protocol_version: 2,
  schema: { type: 'record', name: 'AclDeleteAccountRequest', fields: [{ name: 'accessKey', type: 'string' }] },
});
export const acl_list_request_v2 = defineCodec<AclListRequest>({
  protocol_version: 2,
  schema: { type: 'record', name: 'AclListRequest', fields: [] },
});
export const acl_list_response_v2 = defineCodec<AclListResponse>({
  protocol_version: 2,
  schema: { type: 'record', name: 'AclListResponse', fields: [{ name: 'accounts', type: { type: 'array', items: account_schema } }] },
});
export const acl_change_response_v2 = defineCodec<AclChangeResponse>({
  protocol_version: 2,
  schema: { type: 'record', name: 'AclChangeResponse', fields: [] },
});

export function encodeAclUpdateAccountRequest(value: AclUpdateAccountRequest): Buffer {
  return acl_update_account_request_v2.encode(value);
}
export function decodeAclUpdateAccountRequest(bytes: Uint8Array): Result<AclUpdateAccountRequest> {
  return acl_update_account_request_v2.decode(bytes);
}
export function encodeAclDeleteAccountRequest(value: AclDeleteAccountRequest): Buffer {
  return acl_delete_account_request_v2.encode(value);
}
export function decodeAclDeleteAccountRequest(bytes: Uint8Array): Result<AclDeleteAccountRequest> {
  return acl_delete_account_request_v2.decode(bytes);
}
export function encodeAclListRequest(value: AclListRequest): Buffer {
  return acl_list_request_v2.encode(value);
}
export function decodeAclListRequest(bytes: Uint8Array): Result<AclListRequest> {
  return acl_list_request_v2.decode(bytes);
}
export function encodeAclListResponse(value: AclListResponse): Buffer {
  return acl_list_response_v2.encode(value);
}
export function decodeAclListResponse(bytes: Uint8Array): Result<AclListResponse> {
  return acl_list_response_v2.decode(bytes);
}
export function encodeAclChangeResponse(value: AclChangeResponse): Buffer {
  return acl_change_response_v2.encode(value);
}
export function decodeAclChangeResponse(bytes: Uint8Array): Result<AclChangeResponse> {
  return acl_change_response_v2.decode(bytes);
}
