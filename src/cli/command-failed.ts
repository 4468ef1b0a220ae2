/** How a CLI command that failed ends: the reason on stderr, exit code 1. */
export function commandFailed(err: unknown): void {
  console.error(`failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
