// The `ownlm` command: one module per subcommand under commands/, each exporting a `Command`.
import type { Command } from './command.ts';

/** Subcommands by name; loaded lazily so `ownlm --help` stays fast. */
const commands: Record<string, () => Promise<{ command: Command }>> = {
  quickstart: () => import('./commands/quickstart.ts'),
  train: () => import('./commands/train.ts'),
  finetune: () => import('./commands/finetune.ts'),
  eval: () => import('./commands/eval.ts'),
  sample: () => import('./commands/sample.ts'),
  export: () => import('./commands/export.ts'),
  import: () => import('./commands/import.ts'),
  'tokenizer-train': () => import('./commands/tokenizer-train.ts'),
  'tokenizer-encode': () => import('./commands/tokenizer-encode.ts'),
  'data-pack': () => import('./commands/data-pack.ts'),
  'data-prepare': () => import('./commands/data-prepare.ts'),
  worker: () => import('./commands/worker.ts'),
  'dataset-validate': () => import('./commands/dataset-validate.ts'),
  'dataset-import': () => import('./commands/dataset-import.ts'),
  'dataset-synth': () => import('./commands/dataset-synth.ts'),
  redteam: () => import('./commands/redteam.ts'),
  'safety-generate-data': () => import('./commands/safety-generate-data.ts'),
  'safety-train-classifier': () => import('./commands/safety-train-classifier.ts'),
};

function usage(): string {
  const names = Object.keys(commands).sort();
  return `usage: ownlm <command> [options]\n\ncommands:\n${names.map((n) => `  ${n}`).join('\n')}\n\nRun \`ownlm <command> --help\` for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 1;
  }
  // Two-word commands such as `data prepare` are registered as `data-prepare`.
  const key = rest[0] && commands[`${name}-${rest[0]}`] ? `${name}-${rest.shift()}` : name;
  const load = commands[key];
  if (!load) {
    console.error(`ownlm: unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  const { command } = await load();
  try {
    return await command.run(rest);
  } catch (error) {
    console.error(`ownlm ${key.replace('-', ' ')}: ${(error as Error).message}`);
    if (process.env.OWNLM_DEBUG) console.error(error);
    return 1;
  }
}
