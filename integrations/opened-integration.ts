/**
 * One outside system as its `index.ts` opens it from configuration: the client jobs use (live, or
 * the same live client pointed at an emulator this process started), the emulators it started, by
 * name, for the demo and for tests to drive, and how to let go of both.
 */
export interface OpenedIntegration<Client, Emulators extends object> {
  readonly client: Client;
  readonly emulators: Emulators;
  close(): Promise<void>;
}

/** A stand-in that fails each call, saying which integration this process did not open. */
export function notOpened(system: string): () => Promise<never> {
  return () => Promise.reject(new Error(`no ${system} integration was opened in this process`));
}
