// Stage 2: quality filters. Each removed document gets one reason (the first rule it fails) and a detail with
// the measured value, so the report can show why. Defaults are the Gopher rules (Rae et al. 2021, "Scaling
// Language Models", appendix A.1.1 and table A1); the repetition rules follow datatrove's GopherRepetitionFilter.
import { charClass, LETTER } from './chars.ts';
import { detectLanguage } from './language.ts';
import type { DocumentKind } from './normalize.ts';
import { StampedCounter } from './hash-table.ts';

export type FilterReason =
  | 'too-short'
  | 'too-long'
  | 'regex'
  | 'non-letters'
  | 'language'
  | 'duplicate-paragraphs'
  | 'duplicate-lines'
  | 'top-ngram'
  | 'duplicate-ngrams';

/** Reasons in the order the rules run. */
export const filterReasons: readonly FilterReason[] = [
  'too-short',
  'too-long',
  'regex',
  'non-letters',
  'language',
  'duplicate-paragraphs',
  'duplicate-lines',
  'top-ngram',
  'duplicate-ngrams',
];

/**
 * Thresholds of the filters. Words are whitespace-separated tokens (as in Gopher). Source code is only checked
 * for length and `rejectPatterns`; the prose rules would remove most code (closing braces repeat, symbols are
 * not letters).
 */
export interface FilterOptions {
  /** Fewer words than this: 'too-short'. Gopher: 50. */
  minWords: number;
  /** More words than this: 'too-long'. Gopher: 100,000. */
  maxWords: number;
  /** Share of words holding at least one letter below this: 'non-letters'. Gopher: 0.8. */
  minLetterWordFraction: number;
  /** Detected languages to keep (codes of `knownLanguages`, plus 'unknown' to keep undetected ones); empty keeps all. */
  languages: string[];
  /** Share of lines that repeat an earlier line. Gopher: 0.30. */
  maxDuplicateLineFraction: number;
  /** Share of characters in lines that repeat an earlier line. Gopher: 0.20. */
  maxDuplicateLineCharFraction: number;
  /** Share of paragraphs (blank-line separated) that repeat an earlier one. Gopher: 0.30. */
  maxDuplicateParagraphFraction: number;
  /** Share of characters in repeated paragraphs. Gopher: 0.20. */
  maxDuplicateParagraphCharFraction: number;
  /** n → largest share of characters covered by the most frequent n-gram (counted only when it repeats). Gopher: 2→0.20, 3→0.18, 4→0.16. */
  maxTopNgramCharFraction: Record<number, number>;
  /** n → largest share of characters in n-grams that repeat an earlier one. Gopher: 5→0.15 … 10→0.10. */
  maxDuplicateNgramCharFraction: Record<number, number>;
  /** Regular expressions (JavaScript syntax, compiled with the `u` and `m` flags); a match removes the document. */
  rejectPatterns: string[];
}

export const defaultFilterOptions: FilterOptions = {
  minWords: 50,
  maxWords: 100_000,
  minLetterWordFraction: 0.8,
  languages: [],
  maxDuplicateLineFraction: 0.3,
  maxDuplicateLineCharFraction: 0.2,
  maxDuplicateParagraphFraction: 0.3,
  maxDuplicateParagraphCharFraction: 0.2,
  maxTopNgramCharFraction: { 2: 0.2, 3: 0.18, 4: 0.16 },
  maxDuplicateNgramCharFraction: { 5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.1 },
  rejectPatterns: [],
};

/** Gopher repetition statistics: shares of a text's characters (or of its lines/paragraphs) that repeat. */
export interface RepetitionStats {
  duplicateParagraphFraction: number;
  duplicateParagraphCharFraction: number;
  duplicateLineFraction: number;
  duplicateLineCharFraction: number;
  /** n → characters in all occurrences of the most frequent n-gram (0 unless it occurs twice) / text length. */
  topNgramCharFraction: Record<number, number>;
  /** n → characters in n-grams equal to an earlier one (scanning on past each repeat) / text length. */
  duplicateNgramCharFraction: Record<number, number>;
}

export interface FilterVerdict {
  reason: FilterReason;
  /** The measured value against the threshold, e.g. "duplicate lines 0.417 > 0.3". */
  detail: string;
}

const ngramBase = 0x01000193;

/** A measured share against its threshold, e.g. "0.183 > 0.15". */
function versus(value: number, operator: '<' | '>', threshold: number): string {
  return `${value.toFixed(3)} ${operator} ${threshold}`;
}

/** Fraction of elements (and of `totalChars`) in elements that repeat an earlier one. */
function duplicateShares(elements: string[], totalChars: number): { fraction: number; charFraction: number } {
  const seen = new Set<string>();
  let duplicates = 0;
  let duplicateChars = 0;
  for (const element of elements) {
    if (seen.has(element)) {
      duplicates += 1;
      duplicateChars += element.length;
    } else seen.add(element);
  }
  return {
    fraction: elements.length > 0 ? duplicates / elements.length : 0,
    charFraction: totalChars > 0 ? duplicateChars / totalChars : 0,
  };
}

/**
 * Applies the filters to normalized documents. Holds reusable scratch buffers, so use one instance per thread.
 */
export class DocumentFilter {
  private readonly patterns: RegExp[];
  private readonly allowed: Set<string> | null;
  private readonly topNgrams: [number, number][];
  private readonly duplicateNgrams: [number, number][];
  private readonly maxN: number;
  private readonly minDuplicateNgramShare: number;
  private wordHash = new Uint32Array(1024);
  private wordLength = new Uint32Array(1024);
  // prefix[i] = polynomial hash of words [0, i); power[n] = ngramBase^n, so an n-gram hash is O(1).
  private prefix = new Uint32Array(1025);
  private readonly power: Uint32Array;
  private readonly counter = new StampedCounter();

  constructor(private readonly options: FilterOptions) {
    this.patterns = options.rejectPatterns.map((source) => new RegExp(source, 'mu'));
    this.allowed = options.languages.length > 0 ? new Set(options.languages) : null;
    const entries = (table: Record<number, number>) =>
      Object.entries(table)
        .map(([n, max]) => [Number(n), max] as [number, number])
        .sort((a, b) => a[0] - b[0]);
    this.topNgrams = entries(options.maxTopNgramCharFraction);
    this.duplicateNgrams = entries(options.maxDuplicateNgramCharFraction);
    this.minDuplicateNgramShare = Math.min(...this.duplicateNgrams.map((e) => e[1]));
    this.maxN = Math.max(1, ...this.topNgrams.map((e) => e[0]), ...this.duplicateNgrams.map((e) => e[0]));
    this.power = new Uint32Array(this.maxN + 1);
    this.power[0] = 1;
    for (let n = 1; n <= this.maxN; n++) this.power[n] = Math.imul(this.power[n - 1], ngramBase);
  }

  /** Returns why `text` (already normalized) is removed, or null to keep it; `language` is set for prose. */
  check(text: string, kind: DocumentKind): { verdict: FilterVerdict | null; language: string } {
    const language = kind === 'text' ? detectLanguage(text).language : 'code';
    return { verdict: this.verdict(text, kind, language), language };
  }

  private verdict(text: string, kind: DocumentKind, language: string): FilterVerdict | null {
    const o = this.options;
    const { words, letterWords } = this.scanWords(text);
    if (words < o.minWords) return { reason: 'too-short', detail: `${words} words < ${o.minWords}` };
    if (words > o.maxWords) return { reason: 'too-long', detail: `${words} words > ${o.maxWords}` };
    for (const pattern of this.patterns) {
      if (pattern.test(text)) return { reason: 'regex', detail: `matches /${pattern.source}/` };
    }
    if (kind === 'code') return null;
    const letters = words > 0 ? letterWords / words : 0;
    if (letters < o.minLetterWordFraction) {
      return {
        reason: 'non-letters',
        detail: `words with letters ${versus(letters, '<', o.minLetterWordFraction)}`,
      };
    }
    if (this.allowed && !this.allowed.has(language)) {
      return { reason: 'language', detail: `language ${language} not in ${[...this.allowed].join(', ')}` };
    }
    return this.repetition(text, words);
  }

  /** The Gopher repetition statistics of a normalized prose text. */
  repetitionStats(text: string): RepetitionStats {
    return this.measureRepetition(text, this.scanWords(text).words, true);
  }

  /**
   * With `exact` false the duplicate n-gram shares may read 0 when they provably cannot exceed any threshold,
   * which is all a verdict needs.
   */
  private measureRepetition(text: string, words: number, exact: boolean): RepetitionStats {
    const paragraphs = duplicateShares(text.split(/\n{2,}/), text.length);
    const lines = duplicateShares(text.split(/\n+/), text.length);
    const topNgramCharFraction: Record<number, number> = {};
    for (const [n] of this.topNgrams) topNgramCharFraction[n] = this.topNgramChars(words, n) / text.length;
    const duplicateNgramCharFraction: Record<number, number> = {};
    // An n-gram that repeats an earlier one also repeats it in each of its shortest sub-n-grams, so every
    // counted n-gram lies in the words covered by repeated shortest n-grams: when those cover less than every
    // threshold, no rule can fire and the passes are skipped.
    let none =
      !exact &&
      this.duplicateNgrams.length > 0 &&
      this.repeatedCoverage(words, this.duplicateNgrams[0][0]) / text.length <= this.minDuplicateNgramShare;
    for (const [n] of this.duplicateNgrams) {
      // A repeated longer n-gram starts with a repeated shorter one, so none repeats once an n had none.
      const chars: number = none ? 0 : this.duplicateNgramChars(words, n);
      none = chars === 0;
      duplicateNgramCharFraction[n] = chars / text.length;
    }
    return {
      duplicateParagraphFraction: paragraphs.fraction,
      duplicateParagraphCharFraction: paragraphs.charFraction,
      duplicateLineFraction: lines.fraction,
      duplicateLineCharFraction: lines.charFraction,
      topNgramCharFraction,
      duplicateNgramCharFraction,
    };
  }

  private repetition(text: string, words: number): FilterVerdict | null {
    const o = this.options;
    const s = this.measureRepetition(text, words, false);
    const over = (value: number, max: number) => value > max;
    const detail = (what: string, value: number, max: number) => `${what} ${versus(value, '>', max)}`;
    if (over(s.duplicateParagraphFraction, o.maxDuplicateParagraphFraction)) {
      return {
        reason: 'duplicate-paragraphs',
        detail: detail('duplicate paragraphs', s.duplicateParagraphFraction, o.maxDuplicateParagraphFraction),
      };
    }
    if (over(s.duplicateParagraphCharFraction, o.maxDuplicateParagraphCharFraction)) {
      return {
        reason: 'duplicate-paragraphs',
        detail: detail(
          'characters in duplicate paragraphs',
          s.duplicateParagraphCharFraction,
          o.maxDuplicateParagraphCharFraction,
        ),
      };
    }
    if (over(s.duplicateLineFraction, o.maxDuplicateLineFraction)) {
      return {
        reason: 'duplicate-lines',
        detail: detail('duplicate lines', s.duplicateLineFraction, o.maxDuplicateLineFraction),
      };
    }
    if (over(s.duplicateLineCharFraction, o.maxDuplicateLineCharFraction)) {
      return {
        reason: 'duplicate-lines',
        detail: detail(
          'characters in duplicate lines',
          s.duplicateLineCharFraction,
          o.maxDuplicateLineCharFraction,
        ),
      };
    }
    for (const [n, max] of this.topNgrams) {
      const value = s.topNgramCharFraction[n];
      if (over(value, max))
        return {
          reason: 'top-ngram',
          detail: detail(`characters in the most frequent ${n}-gram`, value, max),
        };
    }
    for (const [n, max] of this.duplicateNgrams) {
      const value = s.duplicateNgramCharFraction[n];
      if (over(value, max))
        return {
          reason: 'duplicate-ngrams',
          detail: detail(`characters in duplicate ${n}-grams`, value, max),
        };
    }
    return null;
  }

  /** Splits on whitespace into the scratch buffers (hash and length per word) and counts words with a letter. */
  private scanWords(text: string): { words: number; letterWords: number } {
    const classes = charClass;
    const letterBit = LETTER;
    let words = 0;
    let letterWords = 0;
    let hash = 0x811c9dc5;
    let length = 0;
    let hasLetter = false;
    const push = () => {
      if (words === this.wordHash.length) this.growWords();
      this.wordHash[words] = hash;
      this.wordLength[words] = length;
      words += 1;
      if (hasLetter) letterWords += 1;
    };
    const end = text.length;
    for (let i = 0; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c > 32) {
        hash = Math.imul(hash ^ c, 0x01000193);
        length += 1;
        if ((classes[c] & letterBit) !== 0) hasLetter = true;
      } else if (length > 0) {
        push();
        hash = 0x811c9dc5;
        length = 0;
        hasLetter = false;
      }
    }
    if (length > 0) push();
    const prefix = this.prefix;
    for (let i = 0; i < words; i++)
      prefix[i + 1] = (Math.imul(prefix[i], ngramBase) + this.wordHash[i]) >>> 0;
    return { words, letterWords };
  }

  private growWords(): void {
    const grow = (a: Uint32Array, size: number) => {
      const bigger = new Uint32Array(size);
      bigger.set(a);
      return bigger;
    };
    const size = this.wordHash.length * 2;
    this.wordHash = grow(this.wordHash, size);
    this.wordLength = grow(this.wordLength, size);
    this.prefix = grow(this.prefix, size + 1);
  }

  private ngramHash(start: number, n: number): number {
    return (this.prefix[start + n] - Math.imul(this.prefix[start], this.power[n])) >>> 0;
  }

  /** Characters of `n` words from `start` joined by single spaces. */
  private ngramChars(start: number, n: number): number {
    let chars = n - 1;
    for (let k = 0; k < n; k++) chars += this.wordLength[start + k];
    return chars;
  }

  /** Characters covered by all occurrences of the most frequent n-gram, 0 when no n-gram repeats. */
  private topNgramChars(words: number, n: number): number {
    if (words < n) return 0;
    const counter = this.counter;
    counter.reset(words);
    let bestCount = 1;
    let bestStart = -1;
    for (let i = 0; i + n <= words; i++) {
      const count = counter.increment(this.ngramHash(i, n));
      if (count > bestCount) {
        bestCount = count;
        bestStart = i;
      }
    }
    return bestStart < 0 ? 0 : bestCount * this.ngramChars(bestStart, n);
  }

  /** Characters (each word plus one space) of the words inside n-grams that equal an earlier n-gram. */
  private repeatedCoverage(words: number, n: number): number {
    const counter = this.counter;
    counter.reset(words);
    let chars = 0;
    let coveredUntil = 0;
    for (let i = 0; i + n <= words; i++) {
      if (counter.increment(this.ngramHash(i, n)) === 1) continue;
      for (let k = Math.max(i, coveredUntil); k < i + n; k++) chars += this.wordLength[k] + 1;
      coveredUntil = i + n;
    }
    return chars;
  }

  /** Characters in n-grams equal to an earlier one; a repeat skips ahead n words so overlaps count once. */
  private duplicateNgramChars(words: number, n: number): number {
    const counter = this.counter;
    counter.reset(words);
    let chars = 0;
    let i = 0;
    while (i + n <= words) {
      if (counter.increment(this.ngramHash(i, n)) > 1) {
        chars += this.ngramChars(i, n);
        i += n;
      } else i += 1;
    }
    return chars;
  }
}
