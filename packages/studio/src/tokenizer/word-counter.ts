// Counts pre-tokens ("words") for BPE training in bounded memory. Special tokens written in the text are cut
// out first, so they are never learned as merges. When the table outgrows `maxWords`, the rarest entries are
// dropped (lossy counting): frequent words keep exact counts, words rarer than the dropped ones may be
// undercounted, and `approximate` says that this happened.
import { compilePattern } from './pretokenize.ts';

export interface WordCounts {
  words: string[];
  counts: number[];
  approximate: boolean;
}

export class WordCounter {
  readonly counts = new Map<string, number>();
  approximate = false;
  private readonly regex: RegExp;
  private readonly specials: string[];

  constructor(
    pattern: string,
    specialTokens: string[],
    private readonly maxWords: number,
  ) {
    this.regex = compilePattern(pattern);
    this.specials = specialTokens;
  }

  add(text: string): void {
    for (const special of this.specials) {
      if (text.includes(special)) {
        for (const part of text.split(special)) this.add(part);
        return;
      }
    }
    const { regex, counts } = this;
    regex.lastIndex = 0;
    for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
      const word = m[0];
      const count = counts.get(word);
      counts.set(word, count === undefined ? 1 : count + 1);
    }
    if (counts.size > this.maxWords) this.prune();
  }

  /** Adds counts gathered elsewhere (another worker). */
  merge(other: WordCounts): void {
    for (let i = 0; i < other.words.length; i++) {
      const count = this.counts.get(other.words[i]);
      this.counts.set(other.words[i], count === undefined ? other.counts[i] : count + other.counts[i]);
    }
    this.approximate ||= other.approximate;
    if (this.counts.size > this.maxWords) this.prune();
  }

  result(): WordCounts {
    return {
      words: [...this.counts.keys()],
      counts: [...this.counts.values()],
      approximate: this.approximate,
    };
  }

  // Drops the rarest words until the table is back to three quarters of the limit, leaving room to grow.
  private prune(): void {
    this.approximate = true;
    for (let floor = 1; this.counts.size > Math.floor(this.maxWords * 0.75); floor++) {
      for (const [word, count] of this.counts) if (count <= floor) this.counts.delete(word);
    }
  }
}
