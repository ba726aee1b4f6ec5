/** The error a promise rejects with; fails the test when it resolves, or rejects with something that is not an Error. */
export async function failure(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`not an Error: ${String(err)}`);
  }
  throw new Error('expected a failure');
}
