import { createServer } from 'node:net';
import { loadConfig } from '../../lib/config';
import { assertMysqlUp, assertRedisUp } from '../support/services';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a missing service', () => {
  it('fails the run loudly, naming MariaDB/MySQL and its address', async () => {
    const port = await closedPort();
    await expect(assertMysqlUp(loadConfig({ MYSQL_URL: `mysql://root@127.0.0.1:${port}/jobhub` }).mysql)).rejects.toThrow(`MariaDB/MySQL is not reachable at 127.0.0.1:${port}`);
  });

  it('fails the run loudly, naming Redis and its address', async () => {
    const port = await closedPort();
    await expect(assertRedisUp(`redis://127.0.0.1:${port}`)).rejects.toThrow(`Redis is not reachable at redis://127.0.0.1:${port}`);
  });
});
