import { createInterface } from 'node:readline';
import { SchoolTmsEmulator } from '../integrations/school-tms/emulator/school-tms.emulator';
import { runMain } from './run-main';

/**
 * The school system's emulator in a process of its own, as the system is remote: serving pages costs
 * the measured hub process nothing. argv[2]: JSON of the client and the students to generate. Prints
 * one JSON line (address), then answers each stdin line `touch <every>` (every n-th student changes
 * now) with `{"changed": n}`, and stops when stdin closes.
 */
export interface SchoolEmulatorArgs {
  clientId: string;
  clientSecret: string;
  students: number;
  /** updated_at of the generated students is spread over [fromMs, toMs]. */
  fromMs: number;
  toMs: number;
}

export interface SchoolEmulatorInfo {
  baseUrl: string;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as SchoolEmulatorArgs;
  const emulator = await SchoolTmsEmulator.start();
  emulator.addClient(args.clientId, args.clientSecret);
  emulator.generateStudents(args.students, { from: new Date(args.fromMs), to: new Date(args.toMs), schoolNames: ['第一实验小学', '育才小学', '东关小学', '外国语学校'] });
  const info: SchoolEmulatorInfo = { baseUrl: emulator.baseUrl };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const touch = /^touch (\d+)$/.exec(line.trim());
    if (touch?.[1]) process.stdout.write(`${JSON.stringify({ changed: emulator.touchStudents(Number(touch[1])) })}\n`);
  }
  await emulator.stop();
}

runMain(main);
