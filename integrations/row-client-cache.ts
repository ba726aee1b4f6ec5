/** Account rows are read again after this long, so an account ops add or disable takes effect without a restart. */
export const ROW_CACHE_MS = 60_000;

/**
 * Clients of accounts that live in database rows (merchants, WeChat apps), by key: built from the
 * row when first asked for, then kept for `ROW_CACHE_MS`. `build` returns null when no enabled row
 * has the account; nothing is kept then, so the next call reads again.
 */
export function rowClientCache<Client>(now: () => number = Date.now): (key: string, build: () => Promise<Client | null>) => Promise<Client | null> {
  const cached = new Map<string, { client: Client; loadedAt: number }>();
  return async (key, build) => {
    const hit = cached.get(key);
    if (hit && now() - hit.loadedAt < ROW_CACHE_MS) return hit.client;
    const client = await build();
    if (client === null) cached.delete(key);
    else cached.set(key, { client, loadedAt: now() });
    return client;
  };
}
