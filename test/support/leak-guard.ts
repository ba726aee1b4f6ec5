import { forgetClosed, openResources } from './resources';

/** A test file that leaves workers, queues or connections open fails here, instead of hanging jest. */
afterAll(() => {
  const open = openResources();
  forgetClosed();
  if (open.length > 0) throw new Error(`test file left open: ${open.join(', ')}`);
});
