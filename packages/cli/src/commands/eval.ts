// `ownlm eval`: perplexity and bits per byte of a model folder on a prepared corpus's validation split or on
// text files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateText, loadModelFolder } from '@ownlm/studio';
import type { Command } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';

const usage = `usage: ownlm eval --model DIR (--corpus DIR | --text FILE...) [options]

Scores held-out text: mean loss, perplexity and bits per byte (comparable across tokenizers).

options:
  --model DIR      model folder (required)
  --corpus DIR     prepared corpus (\`ownlm data prepare\` output): scores its validation.jsonl
  --text FILE      a plain-text file scored as one document (repeatable)
  --context N      tokens per window (default: the model's context)
  --batch N        windows per forward pass (default 8)
  --json           print the result as JSON
  -h, --help       show this help`;

/** The "text" field of every line of a prepared corpus's validation.jsonl. */
function validationDocuments(corpus: string): string[] {
  const path = join(corpus, 'validation.jsonl');
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        const text = (JSON.parse(line) as { text?: unknown }).text;
        if (typeof text !== 'string') throw new Error('field "text" is not a string');
        return text;
      } catch (error) {
        throw new Error(`${path}:${i + 1}: ${(error as Error).message}`);
      }
    });
}

export const command: Command = {
  summary: 'perplexity and bits per byte on held-out text',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        corpus: { type: 'string' },
        text: { type: 'string', multiple: true },
        context: { type: 'string' },
        batch: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.model || (!values.corpus && !values.text)) {
      console.error(usage);
      return 2;
    }
    const { model, tokenizer } = loadModelFolder(values.model);
    const documents = values.corpus
      ? validationDocuments(values.corpus)
      : values.text!.map((file) => readFileSync(file, 'utf8'));
    const context = values.context ? Number(values.context) : model.config.max_position_embeddings;
    const batch = values.batch ? Number(values.batch) : 8;
    if (!Number.isInteger(context) || context < 1)
      throw new Error(`--context must be a positive integer, got '${values.context}'`);
    if (!Number.isInteger(batch) || batch < 1)
      throw new Error(`--batch must be a positive integer, got '${values.batch}'`);
    let bar: ProgressBar | undefined;
    const result = evaluateText(model, tokenizer, documents, {
      context,
      batch,
      onProgress: (done, total) =>
        (bar ??= new ProgressBar({ label: 'eval', total, unit: 'windows' })).update(done),
    });
    bar?.finish();
    if (values.json) console.log(JSON.stringify(result));
    else
      console.log(
        `${result.documents} documents, ${result.tokens} tokens, ${result.bytes} bytes: loss ${result.loss.toFixed(4)}, ` +
          `perplexity ${result.perplexity.toFixed(2)}, bits per byte ${result.bitsPerByte.toFixed(4)}`,
      );
    return 0;
  },
};
