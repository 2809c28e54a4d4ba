import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { frame_bytes_max, groupOfSystemTopic, isValidName, keyProblem } from '../../protocol/index.js';

/**
 * The access-control list of a node: accounts (access key, secret key) with their
 * permissions, as the ACL file holds them (JSON):
 *
 *   {
 *     "accounts": [
 *       { "accessKey": "orders-app", "secretKey": "…", "admin": false,
 *         "allowAddresses": ["10.1.0.0/16", "127.0.0.1"],
 *         "defaultTopicPerm": "DENY", "defaultGroupPerm": "SUB",
 *         "topicPerms": { "Orders": "PUB|SUB", "Audit": "SUB" },
 *         "groupPerms": { "billing": "SUB" },
 *         "limits": { "connections": 200, "requestsInFlight": 4096, "heldPulls": 2048, "requestBytes": 1048576 } }
 *     ]
 *   }
 *
 * - Topic permissions: `PUB`, `SUB`, `PUB|SUB`, `DENY`; group permissions: `SUB`, `DENY`.
 *   A topic or group not listed takes the account's default (`DENY` when not given).
 * - An admin account may do everything, admin requests included (topics, ACL edits,
 *   broker registration, nameserver replication); others never do admin requests.
 * - `allowAddresses`: the source addresses (IPv4/IPv6 addresses or CIDR blocks) the account
 *   may connect from; missing or empty: any.
 * - A group's retry and dead-letter topics (`%RETRY%G`, `%DLQ%G`) follow the group's
 *   permission, not a topic entry: consuming a group is reading its retries.
 * - `limits`: what the account may hold of a node at once, in place of the node's defaults
 *   (server/remoting/client_limits.ts): connections and requests in flight per port, pulls
 *   held by the broker, the largest request body. Each optional.
 *
 * Parsing is strict: an unknown field or a bad value names itself, so a typo in the file is
 * an error at load, not an account silently more (or less) allowed than meant.
 */

export const topic_perms = ['DENY', 'PUB', 'SUB', 'PUB|SUB'] as const;
export type TopicPerm = (typeof topic_perms)[number];
export const group_perms = ['DENY', 'SUB'] as const;
export type GroupPerm = (typeof group_perms)[number];

export const acl_limits = {
  accounts_max: 10_000,
  entries_per_account_max: 10_000,
  addresses_per_account_max: 256,
} as const;

/** An account's own limits, as the ACL file names them; missing ones take the node's. */
export interface AccountLimits {
  connections?: number;
  requestsInFlight?: number;
  heldPulls?: number;
  requestBytes?: number;
}

/** The largest value of each account limit: beyond it the node's own bound applies anyway. */
export const account_limits_max: Readonly<Required<AccountLimits>> = {
  connections: 10_000,
  requestsInFlight: 1 << 20,
  heldPulls: 65_536,
  requestBytes: frame_bytes_max,
};

export interface Account {
  accessKey: string;
  secretKey: string;
  admin: boolean;
  allowAddresses: string[];
  defaultTopicPerm: TopicPerm;
  defaultGroupPerm: GroupPerm;
  topicPerms: Record<string, TopicPerm>;
  groupPerms: Record<string, GroupPerm>;
  /** Absent: the node's defaults for all. */
  limits?: AccountLimits;
}

/** What a request needs: an admin account, or a permission on a topic or a group. */
export type Need = { kind: 'admin' } | { kind: 'topic'; topic: string; perm: 'PUB' | 'SUB' } | { kind: 'group'; group: string };

interface CompiledAccount {
  account: Account;
  /** Undefined: any address. */
  allowed: BlockList | undefined;
}

/** A parsed, checked ACL: immutable; a reload builds a new one. */
export class Acl {
  private constructor(private readonly accounts: ReadonlyMap<string, CompiledAccount>) {}

  /** Parses the ACL file's JSON value; throws an Error naming the first bad field. */
  static parse(value: unknown): Acl {
    if (!isObject(value)) throw new Error('the ACL is not a JSON object with an "accounts" list');
    checkFields(value, ['accounts'], 'the ACL');
    const list = value['accounts'];
    if (!Array.isArray(list)) throw new Error('"accounts" is not a list');
    if (list.length > acl_limits.accounts_max) throw new Error(`${list.length} accounts, more than ${acl_limits.accounts_max}`);
    const accounts = new Map<string, CompiledAccount>();
    list.forEach((entry: unknown, index) => {
      const account = parseAccount(entry, `accounts[${index}]`);
      if (accounts.has(account.accessKey)) throw new Error(`accounts[${index}]: access key "${account.accessKey}" appears twice`);
      accounts.set(account.accessKey, { account, allowed: blockListOf(account.allowAddresses) });
    });
    return new Acl(accounts);
  }

  static empty(): Acl {
    return new Acl(new Map());
  }

  account(access_key: string): Account | undefined {
    return this.accounts.get(access_key)?.account;
  }

  /** The accounts, secrets included (for writing the file). */
  list(): Account[] {
    return [...this.accounts.values()].map((compiled) => compiled.account).sort((a, b) => (a.accessKey < b.accessKey ? -1 : 1));
  }

  /** The file's JSON value of this ACL. */
  toJson(): { accounts: Account[] } {
    return { accounts: this.list() };
  }

  /** A new ACL with `account` added or replaced. */
  withAccount(account: Account): Acl {
    const parsed = parseAccount(account, `account "${String(account.accessKey)}"`);
    const accounts = new Map(this.accounts);
    if (!accounts.has(parsed.accessKey) && accounts.size >= acl_limits.accounts_max) throw new Error(`the ACL holds ${accounts.size} accounts already`);
    accounts.set(parsed.accessKey, { account: parsed, allowed: blockListOf(parsed.allowAddresses) });
    return new Acl(accounts);
  }

  withoutAccount(access_key: string): Acl {
    const accounts = new Map(this.accounts);
    accounts.delete(access_key);
    return new Acl(accounts);
  }

  /** Whether `access_key` may connect from `address` (an IP address, `::ffff:` forms included). */
  addressAllowed(access_key: string, address: string): boolean {
    const compiled = this.accounts.get(access_key);
    if (compiled === undefined) return false;
    if (compiled.allowed === undefined) return true;
    const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
    if (isIPv4(plain)) return compiled.allowed.check(plain, 'ipv4');
    if (isIPv6(plain)) return compiled.allowed.check(plain, 'ipv6');
    return false;
  }

  /** Whether the account may do what `need` says. */
  permits(account: Account, need: Need): boolean {
    if (account.admin) return true;
    switch (need.kind) {
      case 'admin':
        return false;
      case 'group':
        return (account.groupPerms[need.group] ?? account.defaultGroupPerm) === 'SUB';
      case 'topic': {
        const owner = groupOfSystemTopic(need.topic);
        if (owner !== undefined) return (account.groupPerms[owner] ?? account.defaultGroupPerm) === 'SUB';
        const perm = account.topicPerms[need.topic] ?? account.defaultTopicPerm;
        return perm === 'PUB|SUB' || perm === need.perm;
      }
    }
  }
}

const account_fields = ['accessKey', 'secretKey', 'admin', 'allowAddresses', 'defaultTopicPerm', 'defaultGroupPerm', 'topicPerms', 'groupPerms', 'limits'];

function parseAccount(value: unknown, where: string): Account {
  if (!isObject(value)) throw new Error(`${where} is not an object`);
  checkFields(value, account_fields, where);
  const access_key = value['accessKey'];
  const secret_key = value['secretKey'];
  const key_problem = keyProblem('access key', access_key) ?? keyProblem('secret key', secret_key);
  if (key_problem !== undefined) throw new Error(`${where}: ${key_problem}`);
  const admin = value['admin'] ?? false;
  if (typeof admin !== 'boolean') throw new Error(`${where}.admin is not true or false`);
  const addresses = value['allowAddresses'] ?? [];
  if (!Array.isArray(addresses) || addresses.length > acl_limits.addresses_per_account_max || !addresses.every((address) => typeof address === 'string')) {
    throw new Error(`${where}.allowAddresses is not a list of at most ${acl_limits.addresses_per_account_max} addresses`);
  }
  blockListOf(addresses as string[], where);
  const limits = value['limits'] === undefined ? undefined : parseLimits(value['limits'], `${where}.limits`);
  return {
    ...(limits === undefined ? {} : { limits }),
    accessKey: access_key as string,
    secretKey: secret_key as string,
    admin,
    allowAddresses: [...(addresses as string[])],
    defaultTopicPerm: permOf(value['defaultTopicPerm'] ?? 'DENY', topic_perms, `${where}.defaultTopicPerm`),
    defaultGroupPerm: permOf(value['defaultGroupPerm'] ?? 'DENY', group_perms, `${where}.defaultGroupPerm`),
    topicPerms: permTable(value['topicPerms'] ?? {}, topic_perms, `${where}.topicPerms`, 'topic'),
    groupPerms: permTable(value['groupPerms'] ?? {}, group_perms, `${where}.groupPerms`, 'group'),
  };
}

function parseLimits(value: unknown, where: string): AccountLimits {
  if (!isObject(value)) throw new Error(`${where} is not an object`);
  const names = Object.keys(account_limits_max) as Array<keyof AccountLimits>;
  checkFields(value, names, where);
  const limits: AccountLimits = {};
  for (const name of names) {
    const limit = value[name];
    if (limit === undefined) continue;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > account_limits_max[name]) {
      throw new Error(`${where}.${name} is ${JSON.stringify(limit)}; use a whole number from 1 to ${account_limits_max[name]}`);
    }
    limits[name] = limit;
  }
  return limits;
}

function permOf<P extends string>(value: unknown, allowed: readonly P[], where: string): P {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as P;
  throw new Error(`${where} is ${JSON.stringify(value)}; use one of ${allowed.join(', ')}`);
}

function permTable<P extends string>(value: unknown, allowed: readonly P[], where: string, what: 'topic' | 'group'): Record<string, P> {
  if (!isObject(value)) throw new Error(`${where} is not an object of ${what} name to permission`);
  const entries = Object.entries(value);
  if (entries.length > acl_limits.entries_per_account_max) throw new Error(`${where} has ${entries.length} entries, more than ${acl_limits.entries_per_account_max}`);
  const table: Record<string, P> = Object.create(null) as Record<string, P>;
  for (const [name, perm] of entries) {
    if (!isValidName(name)) throw new Error(`${where}: ${JSON.stringify(name)} is no valid ${what} name`);
    table[name] = permOf(perm, allowed, `${where}.${name}`);
  }
  return table;
}

function blockListOf(addresses: readonly string[], where = 'allowAddresses'): BlockList | undefined {
  if (addresses.length === 0) return undefined;
  const list = new BlockList();
  for (const address of addresses) {
    const [ip, prefix_text] = address.split('/') as [string, string | undefined];
    const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
    if (family === undefined) throw new Error(`${where}: ${JSON.stringify(address)} is no IP address or CIDR block`);
    if (prefix_text === undefined) {
      list.addAddress(ip, family);
      continue;
    }
    const prefix = Number(prefix_text);
    if (!/^\d{1,3}$/.test(prefix_text) || prefix > (family === 'ipv4' ? 32 : 128)) throw new Error(`${where}: ${JSON.stringify(address)} has a bad prefix length`);
    list.addSubnet(ip, prefix, family);
  }
  return list;
}

function checkFields(value: Record<string, unknown>, known: readonly string[], where: string): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown !== undefined) throw new Error(`${where} has an unknown field "${unknown}" (known: ${known.join(', ')})`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
