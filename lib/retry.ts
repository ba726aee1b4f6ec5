/**
 * Runs `work` again at once while it fails with an error `retryOn` accepts, at most `tries` times in
 * all; the last error (or any other) is thrown. For failures that a second try in the same moment
 * cures (a deadlock victim, a dropped pooled connection, a drawn code that collided), not for
 * outages: those wait in the queue.
 */
export async function retryAtOnce<T>(tries: number, retryOn: (err: unknown) => boolean, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= tries || !retryOn(err)) throw err;
    }
  }
}
