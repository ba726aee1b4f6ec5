import { parseArgs } from 'node:util';
import { registry } from '../jobs';
import { loadConfigOrExit } from '../lib/config';
import { InvalidPayloadError } from '../lib/errors';
import { closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { createEnqueue } from './enqueue';
import { QueueSet } from './queues';
import { hubRedisKeys } from '../lib/redis-keys';

/**
 * `npm run enqueue -- <job> ['<json payload>'] [--job-id ID] [--delay MS]`: adds one job the way
 * the hub itself does (payload validated first) and prints its id. For ops and the quick start.
 */
async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { 'job-id': { type: 'string' }, delay: { type: 'string' } },
  });
  const [name, json = '{}'] = positionals;
  const def = name ? registry.get(name) : undefined;
  if (!def) {
    console.error(`usage: npm run enqueue -- <job> ['<json payload>'] [--job-id ID] [--delay MS]\njobs: ${[...registry.keys()].join(', ')}`);
    return 2;
  }
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    console.error(`the payload is not JSON: ${json}`);
    return 2;
  }
  const config = loadConfigOrExit();
  const redis = createRedis(config.redis, 'producer', 'jobhub-enqueue');
  const queues = new QueueSet(redis, hubRedisKeys(config.redis));
  try {
    await waitForRedis(redis);
    const job = await createEnqueue(queues)(def, payload as never, {
      ...(values['job-id'] ? { jobId: values['job-id'] } : {}),
      ...(values.delay ? { delay: Number(values.delay) } : {}),
    });
    process.stdout.write(`${JSON.stringify(job)}\n`);
    return 0;
  } catch (err) {
    console.error(err instanceof InvalidPayloadError ? `invalid payload: ${err.message}` : `enqueue failed: ${(err as Error).message}`);
    return 1;
  } finally {
    await queues.close();
    await closeRedis(redis);
  }
}

main().then((code) => process.exit(code));
