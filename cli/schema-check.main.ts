import { loadConfigOrExit } from '../lib/config';
import { createDataSource } from '../entities/data-source';
import { checkSchema, formatSchemaReport } from '../entities/schema/schema-check';

/** `npm run schema:check`: prints the report; exits 1 when anything differs. */
async function main(): Promise<number> {
  const config = loadConfigOrExit();
  const db = await createDataSource(config);
  try {
    const problems = await checkSchema(db);
    process.stdout.write(`${formatSchemaReport(problems)}\n`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    await db.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`schema check failed: ${(err as Error).message}`);
    process.exit(2);
  },
);
