import type { Credentials } from '../../client/remoting/request_signer.js';
import { logger } from '../../runtime/log.js';
import { AclFile } from './acl_file.js';
import { RequestAuth } from './request_auth.js';

/**
 * A node's part in access control, built once from its settings and shared by its listeners:
 * the ACL file (watched; edited by the ACL admin requests), a RequestAuth per listener, and
 * the account its own outgoing requests are signed with (to nameservers, masters, peers).
 */
export interface NodeAccess {
  acl_file: AclFile | undefined;
  /** The node's own account, or undefined: it signs nothing. */
  credentials: Credentials | undefined;
  /** A new authenticator for one listener (each keeps its own replay table), or undefined with the ACL off. */
  listenerAuth(): RequestAuth | undefined;
  close(): void;
}

/** Access control off and no account: what a node without the flags runs with. */
export const no_access: NodeAccess = { acl_file: undefined, credentials: undefined, listenerAuth: () => undefined, close: () => undefined };

export interface NodeAccessSettings {
  aclFile: string | null;
  aclWindowMs: number;
  accessKey: string | null;
  secretKey: string | null;
}

export function nodeAccess(settings: NodeAccessSettings): NodeAccess {
  const log = logger('acl');
  const acl_file = settings.aclFile === null ? undefined : AclFile.open(settings.aclFile, log);
  acl_file?.watch();
  if (acl_file === undefined) log.warn('access control is off (no --acl-file): any client that reaches a port may read and write every topic');
  return {
    acl_file,
    credentials: settings.accessKey === null || settings.secretKey === null ? undefined : { accessKey: settings.accessKey, secretKey: settings.secretKey },
    listenerAuth: () => (acl_file === undefined ? undefined : new RequestAuth({ acl: () => acl_file.acl, window_ms: settings.aclWindowMs, log })),
    close: () => acl_file?.close(),
  };
}
