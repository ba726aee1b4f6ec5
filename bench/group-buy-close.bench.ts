import type { Config } from '../lib/config';
import type { BenchRow } from './table';

export async function benchGroupBuyClose(config: Config): Promise<BenchRow[]> {
  await Promise.resolve(config);
  return [];
}
