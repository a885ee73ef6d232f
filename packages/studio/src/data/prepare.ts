// `prepareCorpus`: raw sources → cleaned train/validation JSONL plus a report.
//
// Two passes, memory bounded by the batch window and the dedup indexes, never by the corpus:
//  1. Sources stream in batches through worker threads (normalize, filter, SHA-1, MinHash, PII scrub). In
//     input order, the main thread drops exact duplicates (64-bit prefix of the SHA-1 in a hash table), adds
//     signatures to the LSH index, and appends survivors to a temporary JSONL file.
//  2. Near-duplicate clusters are resolved (union-find); the temporary file is streamed once more and each
//     document that its cluster keeps goes to train or validation by its id.
// Everything is written inside a work folder in the output folder; only a complete run moves its files into
// place, with report.json last, so a reader that finds report.json finds a finished corpus.
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { resolveCorpusConfig, type CorpusConfig, type CorpusConfigInput } from './config.ts';
import { NearDuplicateIndex, SignatureStore, type NearDedupResult } from './dedup.ts';
import { DataError } from './errors.ts';
import { filterReasons, type FilterReason } from './filters.ts';
import { U64Map } from './hash-table.ts';
import { lshParameters } from './minhash.ts';
import type { DocumentKind } from './normalize.ts';
import { emptyPiiCounts, piiTypes } from './pii.ts';
import {
  DocumentProcessor,
  type DocumentBatch,
  type ProcessedBatch,
  type ProcessorConfig,
} from './process-document.ts';
import { renderReportMarkdown, type CorpusReport, type FilterCount, type StageCount } from './report.ts';
import { readLines, type CorpusSource } from './sources.ts';
import { WorkerPool } from './worker-pool.ts';

export interface PrepareOptions extends CorpusConfigInput {
  sources: CorpusSource[];
  /** Folder that receives train.jsonl, validation.jsonl, report.json and report.md; created when missing. */
  outputDir: string;
  /** Replace the files of an earlier run in `outputDir`; without it such files make the run fail untouched. */
  overwrite?: boolean;
  /** Worker threads for the per-document stages; 0 runs them on the calling thread. Default: one per core (none below 64 MB of input). */
  workers?: number;
  /** Characters of text per batch sent to a worker. */
  batchChars?: number;
  /** Cancels the run; nothing is written to `outputDir` and the promise rejects with DataError 'aborted'. */
  signal?: AbortSignal;
}

export interface PrepareProgress {
  /** 'read': pass 1 over the sources; 'write': pass 2 over the survivors. */
  phase: 'read' | 'write';
  bytesDone: number;
  bytesTotal: number;
  documents: number;
}

export interface PrepareHooks {
  onProgress?(progress: PrepareProgress): void;
}

export const outputFiles = {
  train: 'train.jsonl',
  validation: 'validation.jsonl',
  report: 'report.json',
  markdown: 'report.md',
};

const smallInputBytes = 64e6;
const examplesPerReason = 3;
const exampleClusters = 5;
const examplesPerCluster = 5;
const workPrefix = '.prepare-';

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}…` : flat;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Checks the output folder and returns a fresh work folder inside it. Work folders of runs that died are
 * removed; one of a live run means two runs target the same folder, which is refused.
 */
async function prepareOutput(
  outputDir: string,
  overwrite: boolean,
): Promise<{ workDir: string; created: boolean }> {
  let created = false;
  try {
    if (!(await stat(outputDir)).isDirectory()) {
      throw new DataError(
        'output-exists',
        `${outputDir} exists and is not a folder; choose another output folder`,
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(outputDir, { recursive: true });
    created = true;
  }
  const names = await readdir(outputDir);
  for (const name of names) {
    const pid = name.startsWith(workPrefix) ? Number(name.slice(workPrefix.length).split('-')[0]) : NaN;
    if (Number.isNaN(pid)) continue;
    if (pid !== process.pid && isAlive(pid)) {
      throw new DataError(
        'output-exists',
        `${outputDir} is being written by another run (process ${pid}); wait for it or choose another output folder`,
      );
    }
    await rm(join(outputDir, name), { recursive: true, force: true });
  }
  const existing = Object.values(outputFiles).filter((f) => names.includes(f));
  if (existing.length > 0 && !overwrite) {
    throw new DataError(
      'output-exists',
      `${outputDir} already holds a prepared corpus (${existing.join(', ')}); pass overwrite (--overwrite) to replace it`,
    );
  }
  const workDir = join(outputDir, `${workPrefix}${process.pid}-${Date.now().toString(36)}`);
  await mkdir(workDir);
  return { workDir, created };
}

/**
 * A write stream whose errors (disk full, folder removed) surface from `write`/`end` instead of as an uncaught
 * 'error' event.
 */
function openOutput(path: string): WriteStream {
  const stream = createWriteStream(path);
  stream.on('error', () => {});
  return stream;
}

async function write(stream: WriteStream, chunk: string): Promise<void> {
  if (stream.errored) throw stream.errored;
  if (!stream.write(chunk)) await once(stream, 'drain');
}

async function end(stream: WriteStream): Promise<void> {
  if (stream.errored) throw stream.errored;
  stream.end();
  await once(stream, 'finish');
}

interface BatchMeta {
  texts: string[];
  kinds: DocumentKind[];
  sources: string[];
  sourceIndex: number[];
}

/**
 * Runs the corpus pipeline (normalize → filter → exact dedup → near dedup → PII scrub → split) over `sources`
 * and writes `outputDir`. Resolves with the report also saved as report.json. Bad input (unreadable file,
 * invalid JSONL line, unknown setting) rejects with a DataError naming the file, line or key, and leaves
 * `outputDir` as it was.
 */
export async function prepareCorpus(
  options: PrepareOptions,
  hooks: PrepareHooks = {},
): Promise<CorpusReport> {
  const started = performance.now();
  const config = resolveCorpusConfig({
    filters: options.filters,
    dedup: options.dedup,
    pii: options.pii,
    split: options.split,
  });
  const { signal } = options;
  const checkAborted = () => {
    if (signal?.aborted) throw new DataError('aborted', `cancelled; ${options.outputDir} was left as it was`);
  };
  checkAborted();
  if (options.sources.length === 0) throw new DataError('options-invalid', 'no sources given');
  const totals = await Promise.all(options.sources.map((s) => s.totalBytes()));
  const bytesTotal = totals.reduce((a, b) => a + b, 0);
  const { workDir, created } = await prepareOutput(options.outputDir, options.overwrite ?? false);

  // One worker per core: the main thread (reading, dedup indexes, writing) needs far less than a core. Small
  // inputs stay on the calling thread: a worker costs ~0.5 s of CPU to start (it loads the TypeScript loader),
  // and on 2 cores the demo corpus (19 MB) ran at 0.7–0.8× with two workers, 200 MB at ~1.5×.
  const workers = options.workers ?? (bytesTotal < smallInputBytes ? 0 : availableParallelism());
  const processorConfig: ProcessorConfig = {
    filters: config.filters,
    minhash: {
      permutations: config.dedup.permutations,
      shingleSize: config.dedup.shingleSize,
      seed: config.dedup.seed,
    },
    signatures: config.dedup.near,
    scrubPii: config.pii.scrub,
  };
  const streams: WriteStream[] = [];
  const inline = new DocumentProcessor(processorConfig);
  const pool = new WorkerPool(new URL('./document-worker.ts', import.meta.url), processorConfig, workers, {
    inline: (batch) => inline.processBatch(batch as DocumentBatch),
  });
  let store: SignatureStore | null = null;
  let committed = false;
  try {
    store = config.dedup.near
      ? new SignatureStore(join(workDir, 'signatures.bin'), config.dedup.permutations)
      : null;
    const state = new RunState(config, options.sources);
    const near = store
      ? new NearDuplicateIndex(store, {
          threshold: config.dedup.threshold,
          permutations: config.dedup.permutations,
          keep: config.dedup.keep,
        })
      : null;
    const survivorsPath = join(workDir, 'survivors.tsv');
    const survivors = openOutput(survivorsPath);
    streams.push(survivors);

    // Pass 1.
    const batchChars = options.batchChars ?? 1 << 20;
    const maxInFlight = Math.max(2, workers * 2);
    const inFlight: { meta: BatchMeta; result: Promise<ProcessedBatch> }[] = [];
    let bytesDone = 0;
    const drainOne = async () => {
      const head = inFlight.shift() as (typeof inFlight)[number];
      await state.handleBatch(head.meta, await head.result, near, survivors);
      hooks.onProgress?.({ phase: 'read', bytesDone, bytesTotal, documents: state.inputDocuments });
    };
    let batch: BatchMeta = { texts: [], kinds: [], sources: [], sourceIndex: [] };
    let chars = 0;
    const submit = () => {
      const result = pool.run<ProcessedBatch>({
        texts: batch.texts,
        kinds: batch.kinds,
        sources: batch.sources,
      } satisfies DocumentBatch);
      // Awaited later in order; this handler only keeps an early failure from counting as unhandled.
      result.catch(() => {});
      inFlight.push({ meta: batch, result });
      batch = { texts: [], kinds: [], sources: [], sourceIndex: [] };
      chars = 0;
    };
    for (const [sourceIndex, source] of options.sources.entries()) {
      for await (const document of source.documents()) {
        batch.texts.push(document.text);
        batch.kinds.push(document.kind);
        batch.sources.push(document.source);
        batch.sourceIndex.push(sourceIndex);
        state.sources[sourceIndex].inputBytes += document.inputBytes;
        bytesDone += document.inputBytes;
        chars += document.text.length;
        if (chars >= batchChars || batch.texts.length >= 4096) {
          submit();
          while (inFlight.length >= maxInFlight) await drainOne();
          checkAborted();
        }
      }
    }
    if (batch.texts.length > 0) submit();
    while (inFlight.length > 0) await drainOne();
    await end(survivors);
    checkAborted();

    // Pass 2.
    const clusters = near ? near.finish() : null;
    const train = openOutput(join(workDir, outputFiles.train));
    const validation = openOutput(join(workDir, outputFiles.validation));
    streams.push(train, validation);
    await state.writeOutputs(survivorsPath, clusters, near, train, validation, (done, total) => {
      checkAborted();
      hooks.onProgress?.({
        phase: 'write',
        bytesDone: done,
        bytesTotal: total,
        documents: state.inputDocuments,
      });
    });
    await Promise.all([end(train), end(validation)]);
    checkAborted();

    const seconds = (performance.now() - started) / 1000;
    const report = state.report(
      seconds,
      near?.lsh ?? lshParameters(config.dedup.threshold, config.dedup.permutations),
      clusters,
    );
    await commit(workDir, options.outputDir, report);
    committed = true;
    return report;
  } finally {
    for (const stream of streams) stream.destroy();
    store?.close();
    await pool.close();
    if (!committed) {
      await rm(workDir, { recursive: true, force: true });
      if (created) await rmdir(options.outputDir).catch(() => {});
    }
  }
}

/** Moves the finished files into the output folder: the old report.json goes first, the new one last. */
async function commit(workDir: string, outputDir: string, report: CorpusReport): Promise<void> {
  await writeFile(join(workDir, outputFiles.markdown), renderReportMarkdown(report));
  await writeFile(join(workDir, outputFiles.report), `${JSON.stringify(report, null, 2)}\n`);
  await rm(join(outputDir, outputFiles.report), { force: true });
  for (const file of [outputFiles.train, outputFiles.validation, outputFiles.markdown, outputFiles.report]) {
    await rename(join(workDir, file), join(outputDir, file));
  }
  await rm(workDir, { recursive: true, force: true });
}

function stage(name: StageCount['name']): StageCount {
  return { name, documentsIn: 0, documentsOut: 0, bytesIn: 0, bytesOut: 0 };
}

/** Counters and examples of one run, and the per-document decisions that use them. */
class RunState {
  readonly sources: { name: string; documents: number; inputBytes: number }[];
  inputDocuments = 0;
  private readonly stages = {
    normalize: stage('normalize'),
    filter: stage('filter'),
    exact: stage('exact-dedup'),
    near: stage('near-dedup'),
    pii: stage('pii'),
    split: stage('split'),
  };
  private normalizedChanged = 0;
  private readonly filters = Object.fromEntries(
    filterReasons.map((r) => [r, { documents: 0, bytes: 0, examples: [] }]),
  ) as unknown as Record<FilterReason, FilterCount>;
  private readonly languages: Record<string, number> = {};
  private readonly exact = {
    documents: 0,
    bytes: 0,
    examples: [] as { source: string; duplicateOf: string }[],
  };
  private readonly exactKeys = new U64Map(1 << 16);
  private readonly pii = { documents: 0, counts: emptyPiiCounts() };
  private readonly output = { train: { documents: 0, bytes: 0 }, validation: { documents: 0, bytes: 0 } };
  private readonly clusterExamples = new Map<number, CorpusReport['nearDuplicates']['examples'][number]>();

  constructor(
    private readonly config: CorpusConfig,
    sources: CorpusSource[],
  ) {
    this.sources = sources.map((s) => ({ name: s.name, documents: 0, inputBytes: 0 }));
  }

  /** Pass 1 decisions for one processed batch, in input order. */
  async handleBatch(
    meta: BatchMeta,
    result: ProcessedBatch,
    near: NearDuplicateIndex | null,
    survivors: WriteStream,
  ): Promise<void> {
    const { normalize, filter, exact } = this.stages;
    const permutations = this.config.dedup.permutations;
    let signature = 0;
    let pending = '';
    for (let i = 0; i < result.documents.length; i++) {
      const d = result.documents[i];
      const source = meta.sources[i];
      this.inputDocuments += 1;
      this.sources[meta.sourceIndex[i]].documents += 1;
      normalize.documentsIn += 1;
      normalize.bytesIn += d.rawBytes;
      normalize.documentsOut += 1;
      normalize.bytesOut += d.normalizedBytes;
      if (d.changed) this.normalizedChanged += 1;
      this.languages[d.language] = (this.languages[d.language] ?? 0) + 1;
      filter.documentsIn += 1;
      filter.bytesIn += d.normalizedBytes;
      if (d.verdict) {
        const count = this.filters[d.verdict.reason];
        count.documents += 1;
        count.bytes += d.normalizedBytes;
        if (count.examples.length < examplesPerReason)
          count.examples.push({ source, detail: d.verdict.detail, excerpt: excerpt(meta.texts[i]) });
        continue;
      }
      filter.documentsOut += 1;
      filter.bytesOut += d.normalizedBytes;
      const offset = signature * permutations;
      signature += 1;
      exact.documentsIn += 1;
      exact.bytesIn += d.normalizedBytes;
      const id = d.hash.slice(0, 16);
      if (this.exactKeys.setIfAbsent(parseInt(id.slice(0, 8), 16), parseInt(id.slice(8, 16), 16), 0) >= 0) {
        this.exact.documents += 1;
        this.exact.bytes += d.normalizedBytes;
        if (this.exact.examples.length < examplesPerReason)
          this.exact.examples.push({ source, duplicateOf: id });
        continue;
      }
      exact.documentsOut += 1;
      exact.bytesOut += d.normalizedBytes;
      near?.add(result.signatures, offset, d.length);
      const pii = d.pii ? piiTypes.map((t) => (d.pii as Record<string, number>)[t]).join(',') : '';
      // Survivor line: "id normalizedBytes scrubbedBytes pii-counts" TAB the output JSON line. JSON escapes
      // tabs and newlines inside strings, so the first tab and the line end are unambiguous.
      pending += `${id} ${d.normalizedBytes} ${d.scrubbedBytes} ${pii}\t${d.record}\n`;
    }
    if (pending) await write(survivors, pending);
  }

  /** Pass 2: near-duplicate removal, PII counts and the split, streaming the survivors file. */
  async writeOutputs(
    path: string,
    clusters: NearDedupResult | null,
    near: NearDuplicateIndex | null,
    train: WriteStream,
    validation: WriteStream,
    onProgress: (done: number, total: number) => void,
  ): Promise<void> {
    const { near: nearStage, pii: piiStage, split } = this.stages;
    if (clusters) {
      for (let i = 0; i < clusters.root.length && this.clusterExamples.size < exampleClusters; i++) {
        if (clusters.root[i] === i && clusters.size[i] > 1) {
          this.clusterExamples.set(i, { kept: { id: '', source: '' }, removed: [], size: clusters.size[i] });
        }
      }
    }
    const threshold = this.config.split.validationFraction * 2 ** 32;
    const total = (await stat(path)).size;
    let done = 0;
    let index = -1;
    for await (const lines of readLines(path)) {
      let toTrain = '';
      let toValidation = '';
      for (const { line, bytes } of lines) {
        done += bytes;
        index += 1;
        const tab = line.indexOf('\t');
        const [id, normalized, scrubbed, pii] = line.slice(0, tab).split(' ');
        const normalizedBytes = Number(normalized);
        nearStage.documentsIn += 1;
        nearStage.bytesIn += normalizedBytes;
        if (clusters && near) {
          const root = clusters.root[index];
          const keeper = clusters.keeper[root];
          const example = this.clusterExamples.get(root);
          if (example) {
            const { source } = JSON.parse(line.slice(tab + 1)) as { source: string };
            if (keeper === index) example.kept = { id, source };
            else if (example.removed.length < examplesPerCluster)
              example.removed.push({ id, source, similarity: near.similarity(index, keeper) });
          }
          if (keeper !== index) continue;
        }
        nearStage.documentsOut += 1;
        nearStage.bytesOut += normalizedBytes;
        const scrubbedBytes = Number(scrubbed);
        piiStage.documentsIn += 1;
        piiStage.bytesIn += normalizedBytes;
        piiStage.documentsOut += 1;
        piiStage.bytesOut += scrubbedBytes;
        if (pii) {
          const counts = pii.split(',').map(Number);
          if (counts.some((n) => n > 0)) this.pii.documents += 1;
          piiTypes.forEach((type, t) => (this.pii.counts[type] += counts[t]));
        }
        split.documentsIn += 1;
        split.bytesIn += scrubbedBytes;
        split.documentsOut += 1;
        split.bytesOut += scrubbedBytes;
        // The id's low 32 bits as a fraction of 2³²: uniform, and a document lands in the same split on every run.
        const isValidation = parseInt(id.slice(8, 16), 16) < threshold;
        const out = isValidation ? this.output.validation : this.output.train;
        out.documents += 1;
        out.bytes += scrubbedBytes;
        if (isValidation) toValidation += `${line.slice(tab + 1)}\n`;
        else toTrain += `${line.slice(tab + 1)}\n`;
      }
      if (toTrain) await write(train, toTrain);
      if (toValidation) await write(validation, toValidation);
      onProgress(done, total);
    }
    onProgress(total, total);
  }

  report(
    seconds: number,
    lsh: { bands: number; rows: number },
    clusters: NearDedupResult | null,
  ): CorpusReport {
    const { dedup } = this.config;
    const clusterSizes: Record<string, number> = { '2': 0, '3-5': 0, '6-10': 0, '11-100': 0, '>100': 0 };
    let clusterCount = 0;
    let largest = 0;
    if (clusters) {
      for (let i = 0; i < clusters.size.length; i++) {
        const size = clusters.size[i];
        if (size < 2) continue;
        clusterCount += 1;
        largest = Math.max(largest, size);
        const bucket =
          size === 2 ? '2' : size <= 5 ? '3-5' : size <= 10 ? '6-10' : size <= 100 ? '11-100' : '>100';
        clusterSizes[bucket] += 1;
      }
    }
    const inputBytes = this.sources.reduce((a, s) => a + s.inputBytes, 0);
    const s = this.stages;
    return {
      version: 1,
      createdAt: new Date().toISOString(),
      seconds,
      megabytesPerSecond: seconds > 0 ? inputBytes / 1e6 / seconds : 0,
      config: this.config,
      sources: this.sources,
      input: { documents: this.inputDocuments, inputBytes, textBytes: s.normalize.bytesIn },
      stages: [s.normalize, s.filter, s.exact, s.near, s.pii, s.split],
      normalizedChanged: this.normalizedChanged,
      filters: this.filters,
      languages: this.languages,
      exactDuplicates: this.exact,
      nearDuplicates: {
        enabled: dedup.near,
        threshold: dedup.threshold,
        permutations: dedup.permutations,
        bands: lsh.bands,
        rows: lsh.rows,
        shingleSize: dedup.shingleSize,
        keep: dedup.keep,
        documents: s.near.documentsIn - s.near.documentsOut,
        bytes: s.near.bytesIn - s.near.bytesOut,
        clusters: clusterCount,
        largestCluster: largest,
        clusterSizes,
        verifiedPairs: clusters?.verifiedPairs ?? 0,
        rejectedCandidates: clusters?.rejectedPairs ?? 0,
        examples: [...this.clusterExamples.values()],
      },
      pii: { enabled: this.config.pii.scrub, ...this.pii },
      output: {
        train: { ...this.output.train, file: outputFiles.train },
        validation: { ...this.output.validation, file: outputFiles.validation },
      },
    };
  }
}
