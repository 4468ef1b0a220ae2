/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping the order of `items`. For work
 * whose count comes from user data (versions, files, tags): an unbounded Promise.all over it opens as
 * many files or sockets at once as a package has versions.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** How many small metadata files one request reads at once. */
export const METADATA_READ_CONCURRENCY = 16;
