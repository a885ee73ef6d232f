// What `prepareCorpus` found and did, as report.json (for code: the tokenizer step, the web UI) and report.md
// (for people). Counts add up: each stage's output is the next stage's input, and every input document is
// either in train/validation or counted once as removed by exactly one stage.
import type { CorpusConfig } from './config.ts';
import type { FilterReason } from './filters.ts';
import type { PiiCounts } from './pii.ts';

export interface StageCount {
  name: 'normalize' | 'filter' | 'exact-dedup' | 'near-dedup' | 'pii' | 'split';
  documentsIn: number;
  documentsOut: number;
  /** UTF-8 bytes of document text (not of JSON lines). */
  bytesIn: number;
  bytesOut: number;
}

export interface RemovalExample {
  source: string;
  detail: string;
  /** The first characters of the document. */
  excerpt: string;
}

export interface FilterCount {
  documents: number;
  bytes: number;
  examples: RemovalExample[];
}

export interface DuplicateClusterExample {
  kept: { id: string; source: string };
  removed: { id: string; source: string; similarity: number }[];
  /** Documents in the cluster, kept one included. */
  size: number;
}

export interface CorpusReport {
  version: 1;
  createdAt: string;
  seconds: number;
  /** Input bytes (as read from the sources) per second of the whole run. */
  megabytesPerSecond: number;
  config: CorpusConfig;
  sources: { name: string; documents: number; inputBytes: number }[];
  input: { documents: number; inputBytes: number; textBytes: number };
  stages: StageCount[];
  /** Documents changed by normalization. */
  normalizedChanged: number;
  filters: Record<FilterReason, FilterCount>;
  /** Detected language of each input document ('code' for source code). */
  languages: Record<string, number>;
  exactDuplicates: { documents: number; bytes: number; examples: { source: string; duplicateOf: string }[] };
  nearDuplicates: {
    enabled: boolean;
    threshold: number;
    permutations: number;
    bands: number;
    rows: number;
    shingleSize: number;
    keep: 'first' | 'longest';
    documents: number;
    bytes: number;
    /** Clusters of two or more documents. */
    clusters: number;
    largestCluster: number;
    /** Clusters by size: "2", "3-5", "6-10", "11-100", ">100". */
    clusterSizes: Record<string, number>;
    verifiedPairs: number;
    rejectedCandidates: number;
    examples: DuplicateClusterExample[];
  };
  pii: { enabled: boolean; documents: number; counts: PiiCounts };
  output: {
    train: { documents: number; bytes: number; file: string };
    validation: { documents: number; bytes: number; file: string };
  };
}

function mb(bytes: number): string {
  return bytes >= 1e6
    ? `${(bytes / 1e6).toFixed(2)} MB`
    : bytes >= 1e3
      ? `${(bytes / 1e3).toFixed(1)} kB`
      : `${bytes} B`;
}

/** Text safe inside a table cell or list item: one line, no pipes, no HTML tags (placeholders look like tags). */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

/** The report as Markdown: stage table, removals with examples, duplicate clusters, PII counts. */
export function renderReportMarkdown(report: CorpusReport): string {
  const lines: string[] = [];
  const { input, stages, output } = report;
  lines.push('# Corpus report', '');
  lines.push(
    `${input.documents} documents (${mb(input.inputBytes)} read) → ${output.train.documents} train + ${output.validation.documents} validation documents ` +
      `(${mb(output.train.bytes + output.validation.bytes)} of text) in ${report.seconds.toFixed(1)} s (${report.megabytesPerSecond.toFixed(1)} MB/s).`,
    '',
  );
  lines.push('## Sources', '', '| source | documents | bytes read |', '| --- | ---: | ---: |');
  for (const s of report.sources) lines.push(`| ${cell(s.name)} | ${s.documents} | ${mb(s.inputBytes)} |`);
  lines.push(
    '',
    '## Stages',
    '',
    '| stage | documents in | documents out | text in | text out |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  for (const s of stages)
    lines.push(`| ${s.name} | ${s.documentsIn} | ${s.documentsOut} | ${mb(s.bytesIn)} | ${mb(s.bytesOut)} |`);
  lines.push('', `Normalization changed ${report.normalizedChanged} documents.`, '');

  lines.push('## Filters', '', '| reason | documents | text |', '| --- | ---: | ---: |');
  const filters = Object.entries(report.filters).filter(([, f]) => f.documents > 0);
  for (const [reason, f] of filters) lines.push(`| ${reason} | ${f.documents} | ${mb(f.bytes)} |`);
  if (filters.length === 0) lines.push('| (none) | 0 | 0 B |');
  for (const [reason, f] of filters) {
    lines.push('', `### ${reason}`, '');
    for (const e of f.examples)
      lines.push(`- \`${cell(e.source)}\`: ${cell(e.detail)} — “${cell(e.excerpt)}”`);
  }
  const languages = Object.entries(report.languages).sort((a, b) => b[1] - a[1]);
  lines.push(
    '',
    '## Languages detected',
    '',
    languages.map(([l, n]) => `${l}: ${n}`).join(', ') || '(none)',
    '',
  );

  const exact = report.exactDuplicates;
  lines.push('## Exact duplicates', '', `${exact.documents} documents removed (${mb(exact.bytes)}).`, '');
  for (const e of exact.examples) lines.push(`- \`${cell(e.source)}\` repeats document \`${e.duplicateOf}\``);
  if (exact.examples.length > 0) lines.push('');

  const near = report.nearDuplicates;
  lines.push('## Near duplicates', '');
  if (!near.enabled) lines.push('Disabled.');
  else {
    lines.push(
      `MinHash with ${near.permutations} permutations on ${near.shingleSize}-word shingles, LSH ${near.bands} bands × ${near.rows} rows, ` +
        `Jaccard threshold ${near.threshold}, keeping the ${near.keep} document of each cluster.`,
      '',
      `${near.documents} documents removed (${mb(near.bytes)}) from ${near.clusters} clusters; largest cluster ${near.largestCluster}. ` +
        `Candidate pairs: ${near.verifiedPairs} confirmed, ${near.rejectedCandidates} below the threshold.`,
      '',
      `Cluster sizes: ${Object.entries(near.clusterSizes)
        .map(([size, n]) => `${size}: ${n}`)
        .join(', ')}.`,
    );
    for (const c of near.examples) {
      lines.push('', `- kept \`${cell(c.kept.source)}\` (\`${c.kept.id}\`), cluster of ${c.size}:`);
      for (const r of c.removed)
        lines.push(`  - removed \`${cell(r.source)}\` (similarity ${r.similarity.toFixed(2)})`);
    }
  }

  lines.push('', '## PII', '');
  if (!report.pii.enabled) lines.push('Scrubbing disabled.');
  else {
    lines.push(`${report.pii.documents} documents held PII.`, '', '| type | replaced |', '| --- | ---: |');
    for (const [type, n] of Object.entries(report.pii.counts)) lines.push(`| ${type} | ${n} |`);
  }
  lines.push('', '## Output', '');
  lines.push(
    `- \`${output.train.file}\`: ${output.train.documents} documents, ${mb(output.train.bytes)} of text`,
  );
  lines.push(
    `- \`${output.validation.file}\`: ${output.validation.documents} documents, ${mb(output.validation.bytes)} of text`,
  );
  return `${lines.join('\n')}\n`;
}
