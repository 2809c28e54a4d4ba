/**
 * `fn` over `items` with at most `limit` calls under way at once; results in input order.
 * The first failure rejects (calls already started still finish, their results dropped).
 * Admin scans use it so that a cluster of many queues is not asked everything at once.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
