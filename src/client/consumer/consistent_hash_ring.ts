import { createHash } from 'node:crypto';
import { assert } from '../../runtime/assert.js';

export const consistent_hash_limits = {
  /** Points per member on the ring: more spread the queues more evenly, at a little CPU. */
  virtual_nodes_per_member_default: 10,
  virtual_nodes_per_member_max: 1_000,
} as const;

/**
 * A consistent-hash ring of group members. Each member is placed at `virtual_nodes` points,
 * hashed from `<member>#<n>`; a key belongs to the first point at or after its own hash,
 * wrapping around. When a member joins or leaves, only the keys between its points and
 * their neighbours move, which is why a group may prefer it to the even split.
 *
 * The hash is the first 4 bytes of MD5 (big-endian): every member, in every language and
 * version, must place points identically, so the hash is fixed here for good. Ties (two
 * points on one hash) are broken by member id so the ring is the same whatever the order
 * members were added in.
 */
export class ConsistentHashRing {
  private readonly points: Array<{ hash: number; member: string }> = [];

  constructor(members: readonly string[], virtual_nodes: number = consistent_hash_limits.virtual_nodes_per_member_default) {
    assert(
      Number.isInteger(virtual_nodes) && virtual_nodes >= 1 && virtual_nodes <= consistent_hash_limits.virtual_nodes_per_member_max,
      `virtual nodes per member must be 1..${consistent_hash_limits.virtual_nodes_per_member_max}, got ${virtual_nodes}`,
    );
    for (const member of members) {
      for (let node = 0; node < virtual_nodes; node++) this.points.push({ hash: ringHash(`${member}#${node}`), member });
    }
    this.points.sort((a, b) => a.hash - b.hash || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
  }

  /** The member owning `key`, or undefined on an empty ring. */
  owner(key: string): string | undefined {
    if (this.points.length === 0) return undefined;
    const hash = ringHash(key);
    // Binary search for the first point with point.hash >= hash.
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.points[middle] as { hash: number }).hash < hash) low = middle + 1;
      else high = middle;
    }
    return (this.points[low === this.points.length ? 0 : low] as { member: string }).member;
  }
}

/** First 4 bytes of MD5 of the UTF-8 key, as an unsigned number. */
export function ringHash(key: string): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0);
}
