import { readAcl } from './auth/acl_file.js';
import { ConfigError } from './config_error.js';

/** The access-control settings as given. */
export interface AclSettings {
  aclFile: string | null;
  accessKey: string | null;
  secretKey: string | null;
}

/**
 * Throws ConfigError naming the flag when the access-control settings cannot work: a key
 * without its pair, or an ACL file that cannot be read or parsed (checked at start, so a
 * typo stops the node with one line instead of refusing every request).
 */
export function checkAclSettings(settings: AclSettings): void {
  if ((settings.accessKey === null) !== (settings.secretKey === null)) {
    throw settings.accessKey === null
      ? new ConfigError('--secret-key needs --access-key: give the account the secret belongs to', 'access-key')
      : new ConfigError('--access-key needs --secret-key (MQ_SECRET_KEY keeps it out of the process list)', 'secret-key');
  }
  if (settings.aclFile === null) return;
  try {
    // Parsed only: no logger here (the log level is not set while the settings load).
    readAcl(settings.aclFile);
  } catch (error) {
    throw new ConfigError(`--acl-file: ${error instanceof Error ? error.message : String(error)}`, 'acl-file');
  }
}
