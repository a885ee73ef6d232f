// The before/after report as a Markdown and as a self-contained HTML document (inline style, no script, no
// external resource; every value escaped), the downloads the server offers for a report. The escaping and the
// page are shared with the other reports that read the same way (the red-team report).
import type { FinetuneReport } from './compare.ts';

const htmlEscapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => htmlEscapes[c]);
}

function formatPerplexity(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : String(value);
}

function change(report: FinetuneReport): string {
  const { base, tuned } = report.perplexity;
  const percent = ((tuned - base) / base) * 100;
  return `${percent <= 0 ? '' : '+'}${percent.toFixed(1)}%`;
}

/**
 * Markdown text for a table cell: HTML-escaped (renderers pass raw HTML through, and answers are untrusted
 * text), pipes escaped, line breaks kept as <br>.
 */
export function markdownCell(text: string): string {
  const escaped = escapeHtml(text).replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
  return escaped.replace(/\r?\n/g, '<br>') || '*(empty)*';
}

export function renderReportMarkdown(report: FinetuneReport): string {
  const lines = [
    `# Fine-tune report: ${escapeHtml(report.tunedModel)}`,
    '',
    `- Base model: ${escapeHtml(report.baseModel)}`,
    `- Tuned model: ${escapeHtml(report.tunedModel)}`,
    `- Dataset: ${escapeHtml(report.dataset)}`,
    `- Held out: ${report.heldOut.conversations} conversations, ${report.heldOut.assistantTokens} assistant tokens`,
    '',
    '## Perplexity on held-out assistant tokens',
    '',
    '| base | tuned | change |',
    '| ---: | ---: | ---: |',
    `| ${formatPerplexity(report.perplexity.base)} | ${formatPerplexity(report.perplexity.tuned)} | ${change(report)} |`,
    '',
    '## Scenarios (greedy answers)',
    '',
    '| prompt | base | tuned |',
    '| --- | --- | --- |',
    ...report.scenarios.map(
      (s) => `| ${markdownCell(s.prompt)} | ${markdownCell(s.base)} | ${markdownCell(s.tuned)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** A self-contained HTML page (inline style, no script); `body` must already be escaped. */
export function htmlDocument(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.4rem 0.6rem; text-align: left; vertical-align: top; }
td { white-space: pre-wrap; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

export function renderReportHtml(report: FinetuneReport): string {
  const e = escapeHtml;
  const rows = report.scenarios
    .map((s) => `<tr><td>${e(s.prompt)}</td><td>${e(s.base)}</td><td>${e(s.tuned)}</td></tr>`)
    .join('\n');
  return htmlDocument(
    `Fine-tune report: ${report.tunedModel}`,
    `<h1>Fine-tune report: ${e(report.tunedModel)}</h1>
<ul>
<li>Base model: ${e(report.baseModel)}</li>
<li>Tuned model: ${e(report.tunedModel)}</li>
<li>Dataset: ${e(report.dataset)}</li>
<li>Held out: ${report.heldOut.conversations} conversations, ${report.heldOut.assistantTokens} assistant tokens</li>
</ul>
<h2>Perplexity on held-out assistant tokens</h2>
<table>
<tr><th>base</th><th>tuned</th><th>change</th></tr>
<tr><td class="number">${formatPerplexity(report.perplexity.base)}</td><td class="number">${formatPerplexity(report.perplexity.tuned)}</td><td class="number">${change(report)}</td></tr>
</table>
<h2>Scenarios (greedy answers)</h2>
<table>
<tr><th>prompt</th><th>base</th><th>tuned</th></tr>
${rows}
</table>`,
  );
}
