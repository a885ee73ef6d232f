import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { DataError } from './errors.ts';
import { prepareCorpus, type PrepareOptions } from './prepare.ts';
import type { CorpusReport } from './report.ts';
import { fileSource, type CorpusSource } from './sources.ts';

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32;
  };
}

const next = random(2024);
const vocabulary = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}${'abcdefgh'[i % 8]}`);
function prose(words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++)
    out.push(vocabulary[Math.floor(next() * vocabulary.length)] + (i % 12 === 11 ? '.' : ''));
  return out.join(' ');
}

interface Line {
  id: string;
  source: string;
  text: string;
}

function readJsonl(path: string): Line[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

describe('prepareCorpus', () => {
  let root = '';
  let input = '';
  const planted = { documents: 0, exactCopy: '', nearCopy: '', nearOriginal: '' };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'ownlm-prepare-'));
    input = join(root, 'input');
    mkdirSync(join(input, 'more'), { recursive: true });
    const write = (name: string, text: string) => {
      writeFileSync(join(input, name), text);
      planted.documents += 1;
    };
    const base = Array.from({ length: 40 }, () => prose(150 + Math.floor(next() * 150)));
    base.forEach((text, i) => write(`doc${String(i).padStart(2, '0')}.txt`, text));
    // Exact duplicate after normalization: same words, different spacing and line endings.
    planted.exactCopy = join(input, 'more', 'exact-copy.txt');
    write('more/exact-copy.txt', `  ${base[3].replace(/ /g, '  ')}\r\n`);
    // Near duplicate: 3 of ~200 words changed (Jaccard of 5-word shingles ≈ 0.93).
    const words = base[5].split(' ');
    for (const at of [20, 90, 150]) words[at] = 'changed';
    planted.nearOriginal = join(input, 'doc05.txt');
    planted.nearCopy = join(input, 'more', 'near-copy.txt');
    write('more/near-copy.txt', words.join(' '));
    write('more/short.txt', 'Too short to keep.');
    write(
      'more/repeated.md',
      Array.from({ length: 12 }, () => 'Buy now and save on everything in the store today').join('\n'),
    );
    write(
      'more/pii.txt',
      `${prose(80)} Mail jane.doe@example.com or call +1 415 555 0132. Card 4111 1111 1111 1111, SSN 078-05-1120, ` +
        `IBAN DE89 3704 0044 0532 0130 00, host 203.0.113.9 and 2001:db8::8a2e:370:7334. Build 1.2.3 of logo@2x.png.`,
    );
    writeFileSync(
      join(input, 'records.jsonl'),
      [prose(90), prose(120)].map((text, i) => JSON.stringify({ body: text, n: i })).join('\n'),
    );
    planted.documents += 2;
    writeFileSync(
      join(input, 'page.html'),
      `<html><head><title>Page</title></head><body><p>${prose(100)}</p></body></html>`,
    );
    planted.documents += 1;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const options = (outputDir: string, extra: Partial<PrepareOptions> = {}): PrepareOptions => ({
    sources: [fileSource([input], { textField: 'body' })],
    outputDir,
    workers: 0,
    split: { validationFraction: 0.25 },
    ...extra,
  });

  let report: CorpusReport;
  let out = '';

  it('writes train/validation JSONL and reports planted duplicates, filter removals and PII', async () => {
    out = join(root, 'out');
    const phases = new Set<string>();
    report = await prepareCorpus(options(out), { onProgress: (p) => phases.add(p.phase) });
    assert.deepEqual([...phases].sort(), ['read', 'write']);
    assert.deepEqual(readdirSync(out).sort(), [
      'report.json',
      'report.md',
      'train.jsonl',
      'validation.jsonl',
    ]);
    assert.deepEqual(
      JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')),
      JSON.parse(JSON.stringify(report)),
    );

    const train = readJsonl(join(out, 'train.jsonl'));
    const validation = readJsonl(join(out, 'validation.jsonl'));
    const all = [...train, ...validation];
    for (const line of all) {
      assert.deepEqual(Object.keys(line), ['id', 'source', 'text']);
      assert.match(line.id, /^[0-9a-f]{16}$/);
    }
    assert.equal(new Set(all.map((l) => l.id)).size, all.length, 'ids are unique');
    // The split is a pure function of the id.
    for (const line of train) assert.ok(parseInt(line.id.slice(8), 16) >= 0.25 * 2 ** 32);
    for (const line of validation) assert.ok(parseInt(line.id.slice(8), 16) < 0.25 * 2 ** 32);
    assert.ok(validation.length > 0 && train.length > validation.length);

    assert.equal(report.input.documents, planted.documents);
    assert.equal(report.filters['too-short'].documents, 1);
    assert.equal(report.filters['too-short'].examples[0].source, join(input, 'more', 'short.txt'));
    assert.equal(report.filters['duplicate-lines'].documents, 1);
    assert.deepEqual(
      report.exactDuplicates.examples.map((e) => e.source),
      [planted.exactCopy],
    );
    assert.equal(report.nearDuplicates.documents, 1);
    assert.equal(report.nearDuplicates.clusters, 1);
    const [cluster] = report.nearDuplicates.examples;
    assert.equal(cluster.kept.source, planted.nearOriginal);
    assert.deepEqual(
      cluster.removed.map((r) => r.source),
      [planted.nearCopy],
    );
    assert.ok(cluster.removed[0].similarity >= 0.8);
    assert.ok(!all.some((l) => l.source === planted.nearCopy || l.source === planted.exactCopy));
    assert.ok(all.some((l) => l.source === join(input, 'records.jsonl:2')));

    assert.deepEqual(report.pii.counts, {
      email: 1,
      phone: 1,
      ipv4: 1,
      ipv6: 1,
      'credit-card': 1,
      iban: 1,
      'us-ssn': 1,
    });
    assert.equal(report.pii.documents, 1);
    const scrubbed = all.find((l) => l.source.endsWith('pii.txt'));
    assert.ok(
      scrubbed?.text.endsWith(
        'Mail <EMAIL> or call <PHONE>. Card <CREDIT_CARD>, SSN <US_SSN>, IBAN <IBAN>, host <IPV4> and <IPV6>. Build 1.2.3 of logo@2x.png.',
      ),
    );
  });

  it('has counts that add up across stages, reasons and output files', () => {
    const { stages } = report;
    for (let i = 1; i < stages.length; i++) {
      assert.equal(stages[i].documentsIn, stages[i - 1].documentsOut, `${stages[i].name} documents in`);
      assert.equal(stages[i].bytesIn, stages[i - 1].bytesOut, `${stages[i].name} bytes in`);
    }
    assert.equal(stages[0].documentsIn, report.input.documents);
    const filtered = Object.values(report.filters).reduce((s, f) => s + f.documents, 0);
    const filteredBytes = Object.values(report.filters).reduce((s, f) => s + f.bytes, 0);
    const byName = Object.fromEntries(stages.map((s) => [s.name, s]));
    assert.equal(byName.filter.documentsIn - byName.filter.documentsOut, filtered);
    assert.equal(byName.filter.bytesIn - byName.filter.bytesOut, filteredBytes);
    assert.equal(
      byName['exact-dedup'].documentsIn - byName['exact-dedup'].documentsOut,
      report.exactDuplicates.documents,
    );
    assert.equal(
      byName['exact-dedup'].bytesIn - byName['exact-dedup'].bytesOut,
      report.exactDuplicates.bytes,
    );
    assert.equal(
      byName['near-dedup'].documentsIn - byName['near-dedup'].documentsOut,
      report.nearDuplicates.documents,
    );
    const { train, validation } = report.output;
    assert.equal(
      report.input.documents,
      filtered +
        report.exactDuplicates.documents +
        report.nearDuplicates.documents +
        train.documents +
        validation.documents,
    );
    assert.equal(byName.split.documentsOut, train.documents + validation.documents);
    assert.equal(byName.split.bytesOut, train.bytes + validation.bytes);
    for (const [file, count] of [
      ['train.jsonl', train],
      ['validation.jsonl', validation],
    ] as const) {
      const lines = readJsonl(join(out, file));
      assert.equal(lines.length, count.documents);
      assert.equal(
        lines.reduce((s, l) => s + Buffer.byteLength(l.text), 0),
        count.bytes,
      );
    }
    assert.equal(report.sources[0].inputBytes, report.input.inputBytes);
    const languages = Object.values(report.languages).reduce((a, b) => a + b, 0);
    assert.equal(languages, report.input.documents);
    const markdown = readFileSync(join(out, 'report.md'), 'utf8');
    assert.ok(markdown.includes('| near-dedup |') && markdown.includes(planted.nearCopy));
  });

  it('gives byte-identical output with worker threads', async () => {
    const threaded = join(root, 'threaded');
    // Until a worker is up the pool works on the calling thread; holding the source back a moment lets the
    // workers take every batch here.
    const files = fileSource([input], { textField: 'body' });
    const held: CorpusSource = {
      name: files.name,
      totalBytes: () => files.totalBytes(),
      async *documents() {
        await delay(1000);
        yield* files.documents();
      },
    };
    await prepareCorpus({ ...options(threaded, { workers: 2, batchChars: 2000 }), sources: [held] });
    for (const file of ['train.jsonl', 'validation.jsonl']) {
      assert.equal(readFileSync(join(threaded, file), 'utf8'), readFileSync(join(out, file), 'utf8'), file);
    }
  });

  it('refuses to overwrite a prepared folder unless asked, and then replaces it', async () => {
    const before = readFileSync(join(out, 'train.jsonl'));
    await assert.rejects(
      prepareCorpus(options(out)),
      (error: Error) => error instanceof DataError && error.code === 'output-exists',
    );
    assert.deepEqual(readFileSync(join(out, 'train.jsonl')), before);
    const replaced = await prepareCorpus(
      options(out, { overwrite: true, pii: { scrub: false }, dedup: { near: false } }),
    );
    assert.equal(replaced.nearDuplicates.documents, 0);
    assert.equal(
      replaced.output.train.documents + replaced.output.validation.documents,
      report.output.train.documents + report.output.validation.documents + 1,
    );
    const text =
      readFileSync(join(out, 'train.jsonl'), 'utf8') + readFileSync(join(out, 'validation.jsonl'), 'utf8');
    assert.ok(text.includes('jane.doe@example.com'));
    assert.ok(text.includes(JSON.stringify(planted.nearCopy)));
    assert.deepEqual(readdirSync(out).sort(), [
      'report.json',
      'report.md',
      'train.jsonl',
      'validation.jsonl',
    ]);
  });

  it('leaves the output folder untouched when the input is bad', async () => {
    const bad = join(root, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ text: prose(60) })}\n{"text": 12}\n`);
    const snapshot = () =>
      readdirSync(out).map((f) => [f, statSync(join(out, f)).mtimeMs, readFileSync(join(out, f), 'utf8')]);
    const before = snapshot();
    await assert.rejects(
      prepareCorpus({
        ...options(out, { overwrite: true }),
        sources: [fileSource([input], { textField: 'body' }), fileSource([bad])],
      }),
      (error: Error) =>
        error instanceof DataError && error.message.startsWith(`${bad}:2: field "text" is number`),
    );
    assert.deepEqual(snapshot(), before);
  });

  it('cleans up after a cancelled run and creates no output folder', async () => {
    const cancelled = join(root, 'cancelled');
    const controller = new AbortController();
    await assert.rejects(
      prepareCorpus(options(cancelled, { signal: controller.signal, workers: 1, batchChars: 1000 }), {
        onProgress: () => controller.abort(),
      }),
      (error: Error) => error instanceof DataError && error.code === 'aborted',
    );
    assert.ok(!existsSync(cancelled));
  });

  it('rejects unknown and out-of-range settings naming the key', async () => {
    const attempt = (extra: object) => prepareCorpus({ ...options(join(root, 'never')), ...extra });
    await assert.rejects(
      attempt({ dedup: { treshold: 0.5 } }),
      /unknown setting dedup\.treshold; known: near, threshold/,
    );
    await assert.rejects(
      attempt({ dedup: { threshold: 1.5 } }),
      /dedup\.threshold must be a number in \(0, 1\], got 1\.5/,
    );
    await assert.rejects(
      attempt({ filters: { languages: ['xx'] } }),
      /filters\.languages entry must be one of en, de/,
    );
    await assert.rejects(
      attempt({ filters: { rejectPatterns: ['('] } }),
      /filters\.rejectPatterns: \/\(\/ is not a valid regular expression/,
    );
    assert.ok(!existsSync(join(root, 'never')));
  });
});
