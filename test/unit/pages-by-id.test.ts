import { pagesById } from '../../lib/pages-by-id';

/** Keyset paging over an in-memory "table" of ids. */
describe('pagesById', () => {
  const table = Array.from({ length: 7 }, (_, i) => ({ id: String(2 ** 53 + i * 2) }));
  const reads: bigint[] = [];
  const read = (size: number) => (afterId: bigint) => {
    reads.push(afterId);
    return Promise.resolve(table.filter((r) => BigInt(r.id) > afterId).slice(0, size));
  };

  afterEach(() => (reads.length = 0));

  it('walks every row once, in order, moving the cursor as an exact integer past 2^53', async () => {
    const seen: string[] = [];
    for await (const page of pagesById(3, read(3))) seen.push(...page.map((r) => r.id));
    expect(seen).toEqual(table.map((r) => r.id));
    expect(reads).toEqual([0n, BigInt(table[2]?.id ?? 0), BigInt(table[5]?.id ?? 0)]);
  });

  it('stops after a short page without reading again, and at once on an empty table', async () => {
    for await (const page of pagesById(7, read(7))) expect(page).toHaveLength(7);
    expect(reads).toEqual([0n, BigInt(table[6]?.id ?? 0)]);
    reads.length = 0;
    const none: unknown[] = [];
    for await (const page of pagesById(5, () => Promise.resolve([] as { id: string }[]))) none.push(page);
    expect(none).toEqual([]);
  });
});
