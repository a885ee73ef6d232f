// `ownlm eval`: perplexity and bits per byte of a model folder on a prepared corpus's validation split or on
// text files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateText, loadModelFolder } from '@ownlm/studio';
import { defineCommand, positiveInteger } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';

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

export const command = defineCommand({
  name: 'eval',
  summary: 'perplexity and bits per byte on held-out text',
  usage: 'ownlm eval --model DIR (--corpus DIR | --text FILE...) [options]',
  about: 'Scores held-out text: mean loss, perplexity and bits per byte (comparable across tokenizers).',
  options: {
    model: { kind: 'string', required: true, placeholder: 'DIR', help: 'model folder' },
    corpus: {
      kind: 'string',
      placeholder: 'DIR',
      help: 'prepared corpus (`ownlm data prepare` output): scores its validation.jsonl',
    },
    text: {
      kind: 'strings',
      repeatable: true,
      placeholder: 'FILE',
      help: 'a plain-text file scored as one document',
    },
    context: {
      kind: 'integer',
      rule: positiveInteger,
      defaultHelp: "the model's context",
      help: 'tokens per window',
    },
    batch: { kind: 'integer', default: 8, rule: positiveInteger, help: 'windows per forward pass' },
    json: { kind: 'boolean', help: 'print the result as JSON' },
  },
  async run({ values, usageError }) {
    if (values.corpus === undefined && values.text === undefined)
      return usageError('give --corpus DIR or --text FILE');
    const { model, tokenizer } = loadModelFolder(values.model);
    const documents = values.corpus
      ? validationDocuments(values.corpus)
      : values.text!.map((file) => readFileSync(file, 'utf8'));
    const context = values.context ?? model.config.max_position_embeddings;
    let bar: ProgressBar | undefined;
    const result = evaluateText(model, tokenizer, documents, {
      context,
      batch: values.batch,
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
});
