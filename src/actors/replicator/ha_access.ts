import { randomBytes } from 'node:crypto';
import type { Credentials } from '../../client/remoting/request_signer.js';
import { flag_oneway, ha_codes, haServerId, parseSignatureHeaders, signatureHeaders, signature_limits, type Envelope } from '../../protocol/index.js';
import type { Clock } from '../../runtime/clock.js';
import { MqError, toMqError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { AclFile } from '../../server/auth/acl_file.js';
import { RequestAuth, request_auth_defaults } from '../../server/auth/request_auth.js';

/**
 * What the replicator needs of the node's access control, as StoreArgs carry it (plain data,
 * structured-cloned into the replicator's worker).
 */
export interface HaAccessArgs {
  /** The node's ACL file (--acl-file): a master checks every HA_HELLO against it; null: no check. */
  acl_file: string | null;
  /** --acl-window-ms: a hello signed further than this from the master's clock is refused. */
  acl_window_ms: number;
  /** The node's own account (--access-key/--secret-key): a slave signs its HA_HELLO with it; null: the hello goes unsigned. */
  credentials: Credentials | null;
}

/** A node without access control and without an account: the HA port as before. */
export const ha_access_off: HaAccessArgs = { acl_file: null, acl_window_ms: request_auth_defaults.window_ms, credentials: null };

export type HaHelloVerdict =
  /** `account`: the access key that signed the hello ('' with access control off). */
  | { ok: true; account: string }
  /** `account`: the access key the hello named ('' when it named none). */
  | { ok: false; account: string; error: MqError };

/**
 * Access control on the HA port. A slave signs its HA_HELLO with the node's account, for the
 * server id of its group's HA port (`ha:<cluster>/<brokerName>`, protocol/request_signature.ts);
 * a master whose node runs with an ACL file takes the hello only when it is signed by a known
 * account, within the window, not seen before, from an address the account allows — and the
 * account is admin, since a replica copies every topic and its acknowledgements decide what a
 * sync-replication master reports as stored. Nothing else may reach the handshake.
 *
 * Per thread, on purpose: the node's AclFile and its listeners' RequestAuths live on the main
 * thread, and the replicator runs on a worker. Neither crosses threads (a parsed ACL holds
 * BlockLists; the file has a timer), and asking the main thread at every hello would tie the
 * HA port to its event loop. So the replicator opens the same file and watches it as the main
 * thread does: an edit — by hand or by `admin acl` — applies here within the same second. The
 * replay table is this thread's own, which is sound: no other listener's requests are signed
 * for an `ha:` server id.
 *
 * Owned by the replicator's thread; no concurrency.
 */
export class HaAccess {
  /** The server id this broker group's HA hellos are signed for. */
  readonly server_id: string;

  private constructor(
    server_id: string,
    private readonly credentials: Credentials | null,
    private readonly acl_file: AclFile | undefined,
    private readonly auth: RequestAuth | undefined,
    private readonly clock: Clock,
  ) {
    this.server_id = server_id;
  }

  /** Opens (and watches) the ACL file when there is one. */
  static open(args: { ha_access: HaAccessArgs; cluster: string; broker_name: string }, log: Logger, clock: Clock): HaAccess {
    const { acl_file: file_path, acl_window_ms, credentials } = args.ha_access;
    // A replicator restarted while the file holds a bad edit (the node keeps its last good
    // ACL then) refuses every slave until the file reads again, rather than failing to start.
    const acl_file = file_path === null ? undefined : AclFile.openRefusingAll(file_path, log);
    acl_file?.watch();
    const auth = acl_file === undefined ? undefined : new RequestAuth({ acl: () => acl_file.acl, window_ms: acl_window_ms, log, clock });
    return new HaAccess(haServerId(args.cluster, args.broker_name), credentials, acl_file, auth, clock);
  }

  /** The access key this node signs its hellos with, or undefined. */
  get access_key(): string | undefined {
    return this.credentials?.accessKey;
  }

  /**
   * The headers that sign an HA_HELLO with `body`: a new session each time (one per
   * connection, so a reconnect is never taken for a replay) and sequence number 1. None
   * without an account.
   */
  signHello(body: Uint8Array): Record<string, string> {
    if (this.credentials === null) return {};
    const session = randomBytes(signature_limits.session_hex_chars / 2).toString('hex');
    return signatureHeaders(this.credentials.secretKey, {
      server_id: this.server_id,
      code: ha_codes.HA_HELLO,
      oneway: false,
      access_key: this.credentials.accessKey,
      timestamp_ms: this.clock.nowMs(),
      session,
      seq: 1,
    }, body);
  }

  /** Whether the HA_HELLO `hello`, from `remote_ip`, may go on to the handshake. */
  checkHello(hello: Envelope, remote_ip: string): HaHelloVerdict {
    const auth = this.auth;
    if (auth === undefined) return { ok: true, account: '' };
    try {
      const account = auth.authenticate(hello, (hello.flags & flag_oneway) !== 0, remote_ip, this.server_id);
      try {
        auth.authorize(account, { kind: 'admin' }, hello.code);
      } catch (error) {
        // authorize names the request by its code; HA_HELLO deserves the reason in words.
        if (!(error instanceof MqError) || error.code !== 'ACCESS_DENIED') throw error;
        throw new MqError('ACCESS_DENIED', `account "${account.accessKey}" is not an admin account: a replica copies every topic, so only an admin account may replicate`);
      }
      return { ok: true, account: account.accessKey };
    } catch (error) {
      const parsed = parseSignatureHeaders(hello.headers);
      return { ok: false, account: parsed.ok ? parsed.fields.access_key : '', error: toMqError(error) };
    }
  }

  /**
   * Whether a slave let in as `account` from `remote_ip` may go on replicating: an account
   * deleted, no longer admin, or no longer allowed that address loses its stream at the
   * next tick, not at its next reconnect. Always true with access control off.
   */
  stillAllowed(account: string, remote_ip: string): boolean {
    if (this.acl_file === undefined) return true;
    const acl = this.acl_file.acl;
    const found = acl.account(account);
    return found !== undefined && acl.permits(found, { kind: 'admin' }) && acl.addressAllowed(account, remote_ip);
  }

  close(): void {
    this.acl_file?.close();
  }
}
