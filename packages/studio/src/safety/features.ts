// The safety classifier's input: a bag of hashed features of the folded text. Words and word pairs carry the
// meaning; character 3- and 4-grams inside words survive misspellings ("instrucions" shares most of its
// grams with "instructions"); runs of punctuation keep delimiters such as `<|`, `###` and `}}`; a few shape
// features mark what words cannot (an encoded blob, shouting).
import { foldText } from './fold.ts';

/** Words longer than this give no character grams (blobs, URLs). */
const MAX_GRAM_WORD = 24;
const token = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]+/gu;

/** FNV-1a over the UTF-16 code units: stable across runs and machines, which shipped weights rely on. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The feature strings of a text (before hashing): what the classifier sees, readable in tests. */
export function featureStrings(text: string): string[] {
  const folded = foldText(text);
  const tokens = folded.match(token) ?? [];
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const word = tokens[i];
    out.push(`w:${word}`);
    if (i > 0) out.push(`b:${tokens[i - 1]} ${word}`);
    if (/^[\p{L}]/u.test(word) && word.length <= MAX_GRAM_WORD) {
      const padded = `^${word}$`;
      for (let n = 3; n <= 4; n++)
        for (let j = 0; j + n <= padded.length; j++) out.push(`c:${padded.slice(j, j + n)}`);
    }
  }
  if (/[A-Za-z0-9+/]{24,}={0,2}/.test(text)) out.push('s:encoded-blob');
  const letters = text.replace(/[^A-Za-z]/g, '');
  if (letters.length >= 12 && letters.replace(/[^A-Z]/g, '').length / letters.length > 0.6)
    out.push('s:shouting');
  if (text.length > 400) out.push('s:long');
  return out;
}

/** The hashed features of a text, each in [0, buckets), repeated as often as it occurs. */
export function featureIds(text: string, buckets: number): Int32Array {
  return Int32Array.from(featureStrings(text), (feature) => fnv1a(feature) % buckets);
}
