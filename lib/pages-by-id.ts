/**
 * A table walked in primary-key order, a page at a time: `read(afterId)` returns up to `pageSize`
 * rows with ids above `afterId`, ascending. Ends at an empty or short page. The cursor is a bigint
 * (sent to MySQL as a number, not a string, so it is compared as an integer and never as a double).
 * Keyset paging: every page is an index range read however far the walk has gone.
 */
export async function* pagesById<Row extends { readonly id: string | number }>(pageSize: number, read: (afterId: bigint) => Promise<readonly Row[]>): AsyncGenerator<readonly Row[]> {
  let afterId = 0n;
  for (;;) {
    const page = await read(afterId);
    const last = page[page.length - 1];
    if (!last) return;
    yield page;
    if (page.length < pageSize) return;
    afterId = BigInt(last.id);
  }
}
