/**
 * Reads a keyset-paged list (`before` = the previous page's `nextBefore`) to its end, or for at
 * most `maxPages` pages: the items of every page in order. A page that is not 200 fails the read.
 */
export async function readAllPages<T>(fetchPage: (before: string) => Promise<{ status: number; items: T[]; nextBefore: string | null }>, maxPages = 5): Promise<T[]> {
  const items: T[] = [];
  let before = '';
  for (let page = 0; page < maxPages; page += 1) {
    const answer = await fetchPage(before);
    if (answer.status !== 200) throw new Error(`page ${page + 1} answered ${answer.status}`);
    items.push(...answer.items);
    if (!answer.nextBefore) break;
    before = answer.nextBefore;
  }
  return items;
}
