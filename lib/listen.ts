import type { FastifyInstance } from 'fastify';

/** Listens on every interface and answers the port actually bound (port 0 picks a free one, as tests do). */
export async function listen(app: FastifyInstance, port: number): Promise<number> {
  await app.listen({ port, host: '0.0.0.0' });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : port;
}
