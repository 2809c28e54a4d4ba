import {
  decodeAclDeleteAccountRequest,
  decodeAclListRequest,
  decodeAclUpdateAccountRequest,
  encodeAclChangeResponse,
  encodeAclListResponse,
  request_codes,
  type AclAccountRecord,
} from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import type { RequestRouter } from '../remoting/request_router.js';
import type { Account } from './acl.js';
import type { AclFile } from './acl_file.js';

/**
 * ACL_UPDATE_ACCOUNT, ACL_DELETE_ACCOUNT and ACL_LIST on a listener (broker or nameserver).
 * They are admin requests (auth/request_needs.ts): the server checked the account before
 * these run. A node without --acl-file answers BAD_REQUEST. Each change is written to the ACL
 * file first, then in force for the next request, and logged with who made it.
 */
export function addAclHandlers(router: RequestRouter, acl_file: AclFile | undefined, log: Logger): RequestRouter {
  const file = (): AclFile => {
    if (acl_file === undefined) throw new MqError('BAD_REQUEST', 'access control is off on this node (it runs without --acl-file): there is no ACL to edit');
    return acl_file;
  };
  return router
    .on(request_codes.ACL_LIST, (body) => {
      const request = decodeAclListRequest(body);
      if (!request.ok) throw new MqError('BAD_REQUEST', `ACL_LIST body: ${request.error.message}`);
      return encodeAclListResponse({ accounts: file().acl.list().map((account) => recordOf(account, '')) });
    })
    .on(request_codes.ACL_UPDATE_ACCOUNT, (body, context) => {
      const request = decodeAclUpdateAccountRequest(body);
      if (!request.ok) throw new MqError('BAD_REQUEST', `ACL_UPDATE_ACCOUNT body: ${request.error.message}`);
      const target = file();
      let next;
      try {
        next = target.current().withAccount(accountOf(request.value.account));
      } catch (error) {
        throw new MqError('BAD_REQUEST', `ACL_UPDATE_ACCOUNT: ${error instanceof Error ? error.message : String(error)}`);
      }
      target.replace(next);
      log.info({ account: request.value.account.accessKey, by: context.headers['AccessKey'] ?? '', remote: context.connection.remote }, 'ACL account added or replaced');
      return encodeAclChangeResponse({});
    })
    .on(request_codes.ACL_DELETE_ACCOUNT, (body, context) => {
      const request = decodeAclDeleteAccountRequest(body);
      if (!request.ok) throw new MqError('BAD_REQUEST', `ACL_DELETE_ACCOUNT body: ${request.error.message}`);
      const target = file();
      // Idempotent: a standalone node's nameserver and broker share one ACL, and an admin
      // deletes on both; the second finds the account gone, which is what was asked.
      const acl = target.current();
      if (acl.account(request.value.accessKey) === undefined) return encodeAclChangeResponse({});
      target.replace(acl.withoutAccount(request.value.accessKey));
      log.info({ account: request.value.accessKey, by: context.headers['AccessKey'] ?? '', remote: context.connection.remote }, 'ACL account deleted');
      return encodeAclChangeResponse({});
    });
}

/** An account as the wire carries it (`secret_key` '' in listings). */
export function recordOf(account: Account, secret_key: string): AclAccountRecord {
  return {
    accessKey: account.accessKey,
    secretKey: secret_key,
    admin: account.admin,
    allowAddresses: [...account.allowAddresses],
    defaultTopicPerm: account.defaultTopicPerm,
    defaultGroupPerm: account.defaultGroupPerm,
    topicPerms: { ...account.topicPerms },
    groupPerms: { ...account.groupPerms },
    limits: { ...account.limits } as Record<string, number>,
  };
}

/** The account a record asks for, to be checked by Acl.withAccount (the record is untrusted). */
function accountOf(record: AclAccountRecord): Account {
  const { limits, ...rest } = record;
  const account = { ...rest, topicPerms: { ...record.topicPerms }, groupPerms: { ...record.groupPerms } } as Account;
  if (Object.keys(limits).length > 0) account.limits = { ...limits };
  return account;
}
