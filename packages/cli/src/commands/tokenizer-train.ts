// `ownlm tokenizer train`: thin over studio's trainTokenizer; flags, progress bars, a summary line.
import { DEFAULT_SPECIAL_TOKENS, trainTokenizer, type TrainProgress } from '@ownlm/studio';
import { defineCommand, eventsOption, nonNegativeInteger, positiveInteger } from '../command.ts';
import { trainProgress } from '../train-progress.ts';
import { ProgressBar } from '../progress-bar.ts';

export const command = defineCommand({
  name: 'tokenizer train',
  summary: 'train a byte-level BPE tokenizer (Hugging Face files, llama.cpp compatible)',
  usage: 'ownlm tokenizer train INPUT... --out DIR [options]',
  about: `Trains a byte-level BPE tokenizer and writes tokenizer.json, tokenizer_config.json (ChatML chat_template)
and chat_template.jinja, loadable by Hugging Face tokenizers/transformers; llama.cpp pre-tokenizer "qwen2".

INPUT is a prepared corpus folder (its train.jsonl), a .jsonl file (field "text") or a plain text file.`,
  positionals: { name: 'INPUT', min: 1 },
  options: {
    out: { kind: 'string', required: true, placeholder: 'DIR', help: 'output folder' },
    vocab_size: {
      kind: 'integer',
      rule: positiveInteger,
      defaultHelp: '32000',
      help: 'total vocabulary, special tokens included',
    },
    min_frequency: {
      kind: 'integer',
      rule: nonNegativeInteger,
      defaultHelp: '2',
      help: 'do not merge pairs seen fewer times',
    },
    special_tokens: {
      kind: 'strings',
      separator: ',',
      placeholder: 'A,B',
      defaultHelp: DEFAULT_SPECIAL_TOKENS.join(','),
      help: 'special tokens, the first being end-of-text',
    },
    max_words: {
      kind: 'integer',
      rule: positiveInteger,
      defaultHelp: '2000000',
      help: 'bound on distinct pre-tokens held while counting',
    },
    workers: {
      kind: 'integer',
      rule: nonNegativeInteger,
      defaultHelp: 'one per core',
      help: 'counting threads',
    },
    force: { kind: 'boolean', help: 'replace a non-empty output folder' },
    events: eventsOption('tokenizer-train-stage and tokenizer-train-done events'),
  },
  async run({ values, positionals }) {
    const events = trainProgress({ events: values.events });
    // With events on stdout, the human summary goes to stderr.
    const say = values.events === '-' ? console.error : console.log;
    const bars: Partial<Record<TrainProgress['phase'], ProgressBar>> = {};
    const result = await trainTokenizer({
      inputs: positionals,
      outDir: values.out,
      vocabSize: values.vocab_size,
      minFrequency: values.min_frequency,
      specialTokens: values.special_tokens,
      maxWords: values.max_words,
      workers: values.workers,
      overwrite: values.force,
      onProgress: ({ phase, done, total }) => {
        if (phase === 'merge') bars.count?.finish();
        if (!bars[phase]) events.emit({ type: 'tokenizer-train-stage', stage: phase });
        const bar = (bars[phase] ??=
          phase === 'count'
            ? new ProgressBar({ label: 'counting', total: total / 1e6, unit: 'MB' })
            : new ProgressBar({ label: 'merging ', total, unit: 'merges' }));
        bar.update(phase === 'count' ? done / 1e6 : done);
      },
    });
    bars.merge?.finish();
    const { tokenizer } = result;
    say(
      `tokenizer: ${values.out} (vocab ${tokenizer.vocabSize}, ${result.merges} merges, ${result.uniqueWords} distinct words${result.approximateCounts ? ', counts approximate' : ''})`,
    );
    say(`sha256 ${tokenizer.hash}; llama.cpp tokenizer.ggml.pre = "${tokenizer.llamaCppPre}"`);
    events.emit({ type: 'artifact-written', kind: 'tokenizer', path: values.out });
    events.emit({
      type: 'tokenizer-train-done',
      out: values.out,
      vocabSize: tokenizer.vocabSize,
      merges: result.merges,
      sha256: tokenizer.hash,
    });
    await events.close();
    return 0;
  },
});
