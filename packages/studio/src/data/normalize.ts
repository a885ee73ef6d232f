// Stage 1: Unicode and whitespace normalization, so that later stages (filters, exact and near dedup) compare
// text that differs only in encoding accidents as equal.

/** Prose is re-flowed (runs of spaces collapsed); code keeps its indentation. */
export type DocumentKind = 'text' | 'code';

const lineBreaks = /\r\n?|[\u000B\u000C\u0085\u2028\u2029]/g;
// C0/C1 controls other than tab and newline, plus invisible format characters that only split words apart
// (zero-width space, word joiner, BOM, soft hyphen). ZWJ/ZWNJ stay: emoji and Indic scripts need them.
const invisible = /[\u0000-\u0008\u000E-\u001F\u007F-\u009F\u00AD\u200B\u2060\uFEFF]/g;
const unicodeSpaces = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
// Only runs and tabs match, so the common single space costs no replacement.
const proseSpaceRuns = /[ \t]{2,}|\t/g;
const spaceAroundNewline = / \n ?|\n /g;
const trailingSpace = /[ \t]+$/gm;
const blankLineRuns = /\n{3,}/g;
// Anything the prose path below would change, surrogates included (lone ones need repair). Most documents
// match nothing, and one scan is much cheaper than the seven replacements.
const proseNeedsWork =
  /[\r\t\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00A0\u00AD\u1680\u2000-\u200B\u2028\u2029\u202F\u205F\u2060\u3000\uD800-\uDFFF\uFEFF]|  | \n|\n |\n\n\n/;

/**
 * Returns `text` in NFC with one newline convention, no control or invisible characters, and tidy whitespace:
 * prose gets single spaces and at most one blank line in a row; code keeps its indentation and loses trailing
 * spaces. Lone UTF-16 surrogates become U+FFFD so the result always encodes to valid UTF-8.
 */
export function normalizeText(text: string, kind: DocumentKind): string {
  if (kind === 'text' && !proseNeedsWork.test(text)) {
    const composed = text.normalize('NFC');
    const last = composed.length - 1;
    return last >= 0 && (composed.charCodeAt(0) <= 32 || composed.charCodeAt(last) <= 32)
      ? composed.trim()
      : composed;
  }
  // ES2024's toWellFormed (Node ≥ 20) is missing from the ES2023 lib typings this repository compiles against.
  const wellFormed = (text as unknown as { toWellFormed(): string }).toWellFormed();
  let out = wellFormed
    .normalize('NFC')
    .replace(lineBreaks, '\n')
    .replace(invisible, '')
    .replace(unicodeSpaces, ' ');
  if (kind === 'text') {
    out = out.replace(proseSpaceRuns, ' ').replace(spaceAroundNewline, '\n').replace(blankLineRuns, '\n\n');
    return out.trim();
  }
  return out
    .replace(trailingSpace, '')
    .replace(blankLineRuns, '\n\n')
    .replace(/^\n+|\n+$/g, '');
}
