import { parseSubscription } from '../../storage/tag_hash.js';

/**
 * The client side of the tag filter. The broker filters by 32-bit tag hash (storage/tag_hash.ts),
 * and two tags can share a hash, so a message whose tag was not subscribed may come through;
 * this exact check on the tag string drops it before the listener sees it.
 * (`storage/tag_hash.ts` imports only runtime/errors.ts, so the SDK may share its parser.)
 */
export interface TagCheck {
  /** The expression sent to the broker, normalised (`*` or `a||b`). */
  readonly expression: string;
  accepts(tag: string | null): boolean;
}

/** Parses a subscription expression (`*`, `a||b`); throws BAD_REQUEST when malformed. */
export function tagCheckOf(expression: string | undefined): TagCheck {
  const parsed = parseSubscription(expression ?? '*');
  if (parsed.filter === '*') return { expression: '*', accepts: () => true };
  const tags = new Set(parsed.tags);
  return { expression: parsed.tags.join('||'), accepts: (tag) => tag !== null && tags.has(tag) };
}
