/** Runs a bench script's or bench process's main: exit with its `process.exitCode` (0 unless it set one) when it ends, 1 with the error printed when it throws. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
