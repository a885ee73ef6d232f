// The red-team report as redteam-report.json, .md and .html, read the same way as the fine-tune report (the
// same escaping and page): rates per category for the attacks and for their benign look-alikes, then examples.
// Prompts and answers are hostile text by design; every one is escaped.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml, htmlDocument, markdownCell } from '../finetune/report-render.ts';
import type { AttackCounts, BenignCounts, OutcomeCounts, RedteamReport } from './redteam.ts';

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;

const outcomeColumns = (c: OutcomeCounts) => [
  c.prompts,
  c.blockedInput,
  c.blockedOutput,
  c.refused,
  c.answered,
  c.leaked,
];
const outcomeHeader = [
  'prompts',
  'blocked by input filter',
  'blocked by output filter',
  'refused',
  'answered',
  'leaked',
];

function tables(report: RedteamReport) {
  const attackRow = (name: string, c: AttackCounts) => [
    name,
    ...outcomeColumns(c).map(String),
    percent(c.blockRate),
  ];
  const benignRow = (name: string, c: BenignCounts) => [
    name,
    ...outcomeColumns(c).map(String),
    percent(c.falsePositiveRate),
    percent(c.refusalRate),
  ];
  return {
    attacks: {
      header: ['category', ...outcomeHeader, 'block rate'],
      rows: [
        ...report.categories.map((c) => attackRow(c.category, c.attacks)),
        attackRow('all', report.attacks),
      ],
    },
    benign: {
      header: ['category', ...outcomeHeader, 'false positives', 'refusals'],
      rows: [
        ...report.categories.map((c) => benignRow(c.category, c.benign)),
        benignRow('all', report.benign),
      ],
    },
  };
}

function summary(report: RedteamReport): string[] {
  return [
    `Model: ${report.model}`,
    `Input filter: ${report.filters.input}; output filter: ${report.filters.output}`,
    `Attacks: ${report.attacks.prompts} prompts, ${percent(report.attacks.blockRate)} blocked or refused, ${report.attacks.leaked} leaked a secret or obeyed an injection`,
    `Benign look-alikes: ${report.benign.prompts} prompts, ${percent(report.benign.falsePositiveRate)} blocked by a filter (false positives), ${percent(report.benign.refusalRate)} refused by the model`,
  ];
}

const exampleColumns = ['category', 'kind', 'outcome', 'prompt', 'answer', 'evidence'];

function exampleCells(e: RedteamReport['examples'][number]): string[] {
  return [
    e.category,
    e.kind,
    e.leaked ? `${e.outcome} (leaked)` : e.outcome,
    e.prompt,
    e.answer ?? '',
    e.reasons.join(', '),
  ];
}

export function renderRedteamMarkdown(report: RedteamReport): string {
  const { attacks, benign } = tables(report);
  const table = (t: { header: string[]; rows: string[][] }, numeric: number) => [
    `| ${t.header.join(' | ')} |`,
    `| --- |${' ---: |'.repeat(numeric)}`,
    ...t.rows.map((r) => `| ${r.map(markdownCell).join(' | ')} |`),
  ];
  return [
    `# Red-team report: ${markdownCell(report.model)}`,
    '',
    ...summary(report).map((line) => `- ${markdownCell(line)}`),
    '',
    '## Attacks',
    '',
    ...table(attacks, attacks.header.length - 1),
    '',
    '## Benign look-alikes',
    '',
    ...table(benign, benign.header.length - 1),
    '',
    '## Examples',
    '',
    `| ${exampleColumns.join(' | ')} |`,
    `|${' --- |'.repeat(exampleColumns.length)}`,
    ...report.examples.map((e) => `| ${exampleCells(e).map(markdownCell).join(' | ')} |`),
    '',
    '## System prompt',
    '',
    markdownCell(report.systemPrompt),
    '',
  ].join('\n');
}

export function renderRedteamHtml(report: RedteamReport): string {
  const e = escapeHtml;
  const { attacks, benign } = tables(report);
  const table = (t: { header: string[]; rows: string[][] }) =>
    `<table>
<tr>${t.header.map((h) => `<th>${e(h)}</th>`).join('')}</tr>
${t.rows.map((r) => `<tr>${r.map((v, i) => (i === 0 ? `<td>${e(v)}</td>` : `<td class="number">${e(v)}</td>`)).join('')}</tr>`).join('\n')}
</table>`;
  const examples = report.examples
    .map(
      (x) =>
        `<tr>${exampleCells(x)
          .map((v) => `<td>${e(v)}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  return htmlDocument(
    `Red-team report: ${report.model}`,
    `<h1>Red-team report: ${e(report.model)}</h1>
<ul>
${summary(report)
  .map((line) => `<li>${e(line)}</li>`)
  .join('\n')}
</ul>
<h2>Attacks</h2>
${table(attacks)}
<h2>Benign look-alikes</h2>
${table(benign)}
<h2>Examples</h2>
<table>
<tr>${exampleColumns.map((h) => `<th>${h}</th>`).join('')}</tr>
${examples}
</table>
<h2>System prompt</h2>
<table><tr><td>${e(report.systemPrompt)}</td></tr></table>`,
  );
}

export const redteamReportFiles = {
  json: 'redteam-report.json',
  markdown: 'redteam-report.md',
  html: 'redteam-report.html',
} as const;

/** Writes redteam-report.json, .md and .html into `dir` and returns their paths. */
export function writeRedteamReport(dir: string, report: RedteamReport): string[] {
  const files: [string, string][] = [
    [redteamReportFiles.json, `${JSON.stringify(report, null, 2)}\n`],
    [redteamReportFiles.markdown, renderRedteamMarkdown(report)],
    [redteamReportFiles.html, renderRedteamHtml(report)],
  ];
  return files.map(([name, text]) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  });
}
