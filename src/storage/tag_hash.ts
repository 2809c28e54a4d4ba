import { MqError } from '../runtime/errors.js';

/**
 * Tags and their hashes: the broker filters a pull by comparing the 32-bit hash of each
 * message's tag (stored in its CommitLog record and its ConsumeQueue entry) with the hashes
 * of the tags a consumer subscribed to, without reading the message.
 *
 * The hash is 32-bit FNV-1a over the tag's UTF-8 bytes, returned as a non-negative number
 * (0 .. 2^32 - 1). Clients compute the same, so it is fixed here for good:
 *
 *     hash = 0x811c9dc5                        (offset basis)
 *     for each byte b of utf8(tag):
 *       hash = hash XOR b
 *       hash = (hash × 0x01000193) mod 2^32    (FNV prime)
 *
 * Check values: tagHash('') = 0x811c9dc5, tagHash('a') = 0xe40c292c,
 * tagHash('foobar') = 0xbf9cf968.
 *
 * A message without a tag carries `no_tag_hash` (0) and is delivered only to `*`
 * subscriptions. Hashes can collide (two tags, one hash), so the broker's filter may let
 * through a message whose tag was not subscribed: the consumer checks the tag string
 * again before handing the message to the listener, as RocketMQ's client does.
 */

export const tag_limits = {
  /** Longest tag, in UTF-8 bytes. */
  tag_bytes_max: 255,
  /** Most tags one subscription expression may name (`a||b||...`). */
  subscription_tags_max: 64,
  /** Longest subscription expression, in characters; checked before it is split. */
  subscription_expression_chars_max: 64 * (255 + 2) + 64,
} as const;

export const no_tag_hash = 0;
const fnv_offset_basis = 0x811c9dc5;
const fnv_prime = 0x01000193;

/** 32-bit FNV-1a of the tag's UTF-8 bytes (see the file comment). */
export function tagHash(tag: string): number {
  let hash = fnv_offset_basis;
  for (let index = 0; index < tag.length; index++) {
    const code = tag.charCodeAt(index);
    // ASCII (every tag in practice) is hashed straight from the string, without encoding.
    if (code >= 0x80) return hashBytes(Buffer.from(tag, 'utf8'));
    hash = Math.imul(hash ^ code, fnv_prime);
  }
  return hash >>> 0;
}

/** The hash a message's record carries: `no_tag_hash` when it has no tag. */
export function messageTagHash(tag: string | null | undefined): number {
  return tag === null || tag === undefined ? no_tag_hash : tagHash(tag);
}

function hashBytes(bytes: Uint8Array): number {
  let hash = fnv_offset_basis;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, fnv_prime);
  return hash >>> 0;
}

/**
 * Checks a tag a producer gives a message. Tags may not contain `|` (it separates tags in a
 * subscription) nor be `*` (it means "all"), so that every tag can be subscribed to.
 */
export function checkTag(tag: string): void {
  if (tag.length === 0 || tag.trim() !== tag) {
    throw new MqError('BAD_REQUEST', `tag ${JSON.stringify(tag)} is empty or has surrounding whitespace; give a tag like "orders" or no tag at all`);
  }
  if (tag.includes('|') || tag === '*') {
    throw new MqError('BAD_REQUEST', `tag ${JSON.stringify(tag)} may not contain "|" or be "*": they separate and wildcard tags in subscriptions`);
  }
  if (Buffer.byteLength(tag, 'utf8') > tag_limits.tag_bytes_max) {
    throw new MqError('BAD_REQUEST', `tag is ${Buffer.byteLength(tag, 'utf8')} UTF-8 bytes, at most ${tag_limits.tag_bytes_max} are allowed`);
  }
}

/** Which tag hashes a read lets through: `'*'` for every message, else a set of hashes. */
export type TagFilter = '*' | ReadonlySet<number>;

export interface Subscription {
  /** The expression as given. */
  expression: string;
  /** The tags named, trimmed and without duplicates; empty for `*`. */
  tags: readonly string[];
  filter: TagFilter;
}

/**
 * Parses a subscription expression: `*` (or an empty expression) for every message, else
 * tags separated by `||`, e.g. `a||b`. Whitespace around tags is ignored and empty pieces
 * (`a||||b`, `a||`) are skipped. The count of tags and their sizes are bounded.
 */
export function parseSubscription(expression: string): Subscription {
  if (expression.length > tag_limits.subscription_expression_chars_max) {
    throw new MqError('BAD_REQUEST', `subscription expression is ${expression.length} characters, at most ${tag_limits.subscription_expression_chars_max} are allowed; subscribe to fewer tags`);
  }
  const trimmed = expression.trim();
  if (trimmed === '' || trimmed === '*') return { expression, tags: [], filter: '*' };
  const tags: string[] = [];
  const seen = new Set<string>();
  for (const piece of trimmed.split('||')) {
    const tag = piece.trim();
    if (tag === '' || seen.has(tag)) continue;
    if (tag === '*') throw new MqError('BAD_REQUEST', `subscription ${JSON.stringify(expression)} mixes "*" with tags; use "*" alone for every message, or list tags as "a||b"`);
    if (tag.includes('|')) throw new MqError('BAD_REQUEST', `subscription ${JSON.stringify(expression)} has a single "|" in ${JSON.stringify(tag)}; separate tags with "||"`);
    checkTag(tag);
    seen.add(tag);
    tags.push(tag);
    if (tags.length > tag_limits.subscription_tags_max) {
      throw new MqError('BAD_REQUEST', `subscription ${JSON.stringify(expression.slice(0, 80))}... names more than ${tag_limits.subscription_tags_max} tags; subscribe with "*" and filter in the listener`);
    }
  }
  if (tags.length === 0) throw new MqError('BAD_REQUEST', `subscription ${JSON.stringify(expression)} names no tag; use "*" for every message, or list tags as "a||b"`);
  return { expression, tags, filter: new Set(tags.map(tagHash)) };
}

export function tagFilterAccepts(filter: TagFilter, tag_hash: number): boolean {
  return filter === '*' || filter.has(tag_hash);
}
