/** Thrown for a command line the command cannot run: printed with the usage, exit status 2. */
export class CliUsageError extends Error {}
