// Undoing the cheap disguises people put on words to slip past filters, before rules and the classifier read
// a text: fullwidth and styled letters (NFKC), accents, Cyrillic and Greek look-alike letters, invisible
// characters, leetspeak inside words (b0mb, 1gnore) and letters spelled out one by one (b o m b, b.o.m.b);
// typographic quotes become ASCII ones.

// Cyrillic and Greek letters drawn like Latin ones (Unicode confusables, lowercase after folding case).
const homoglyphs: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ї: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ɡ: 'g',
  α: 'a',
  β: 'b',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
};
const homoglyphPattern = new RegExp(`[${Object.keys(homoglyphs).join('')}]`, 'gu');

const leet: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '8': 'b',
  '@': 'a',
  $: 's',
  '!': 'i',
};

// Zero-width spaces and joiners, word joiner, invisible operators, byte order mark, soft hyphen.
const invisible = /[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]/g;
const combiningMarks = /\p{M}/gu;
// A word that may hide leetspeak: letters, digits, `@`, `$`, and `!` before a letter (k!ll). Bars never count,
// so chat-template tokens (<|im_start|>) stay as they are.
const leetWord = /(?<![\p{L}\p{N}])(?:[\p{L}\p{N}@$]|!(?=\p{L}))+/gu;
// Counts, ordinals and units (3rd, 100k, 4x4, 2fa, 5pm) keep their digits.
const numberWord = /^\d+(?:st|nd|rd|th|s|k|m|b|d|x\d*|px|gb|mb|kb|fa|am|pm)?$/;
// Three or more single letters with the same separator between them: "b o m b", "b.o.m.b", "b-o-m-b".
const spelledOut = /(?<![\p{L}\p{N}])\p{L}([ .\-_*])\p{L}(?:\1\p{L})+(?![\p{L}\p{N}])/gu;

function undoLeet(word: string): string {
  if (!/[0134578@$!]/.test(word) || numberWord.test(word) || word.replace(/[^\p{L}]/gu, '').length < 2)
    return word;
  return word.replace(/[0134578@$!]/g, (c) => leet[c]);
}

/** The text as rules and the classifier read it: lowercase, disguises undone, spaces collapsed (line breaks kept). */
export function foldText(text: string): string {
  return text
    .normalize('NFKC')
    .replace(invisible, '')
    .replace(/[‘’´]/g, "'")
    .replace(/[“”]/g, '"')
    .toLowerCase()
    .normalize('NFD')
    .replace(combiningMarks, '')
    .replace(homoglyphPattern, (c) => homoglyphs[c])
    .replace(spelledOut, (run, separator: string) => run.split(separator).join(''))
    .replace(leetWord, undoLeet)
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n[\s]*/g, '\n')
    .trim();
}
