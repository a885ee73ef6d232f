/** One `ownlm` subcommand. `run` receives the arguments after the command name and returns an exit code. */
export interface Command {
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}
