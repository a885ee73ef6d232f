import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultFilterOptions, DocumentFilter, type FilterOptions } from './filters.ts';
import { detectLanguage } from './language.ts';
import { normalizeText } from './normalize.ts';

/** Reference for the repetition statistics: the Gopher definitions written with plain strings, Sets and Maps. */
function referenceStats(text: string, topNs: number[], duplicateNs: number[]) {
  const shares = (elements: string[]) => {
    const seen = new Set<string>();
    let count = 0;
    let chars = 0;
    for (const e of elements) {
      if (seen.has(e)) {
        count += 1;
        chars += e.length;
      } else seen.add(e);
    }
    return { fraction: count / elements.length, charFraction: chars / text.length };
  };
  const words = text.split(/\s+/).filter((w) => w !== '');
  const ngram = (i: number, n: number) => words.slice(i, i + n).join(' ');
  const top: Record<number, number> = {};
  for (const n of topNs) {
    const counts = new Map<string, number>();
    let best = '';
    let bestCount = 1;
    for (let i = 0; i + n <= words.length; i++) {
      const g = ngram(i, n);
      const c = (counts.get(g) ?? 0) + 1;
      counts.set(g, c);
      if (c > bestCount) [best, bestCount] = [g, c];
    }
    top[n] = best === '' ? 0 : (best.length * bestCount) / text.length;
  }
  const duplicate: Record<number, number> = {};
  for (const n of duplicateNs) {
    const seen = new Set<string>();
    let chars = 0;
    let i = 0;
    while (i + n <= words.length) {
      const g = ngram(i, n);
      if (seen.has(g)) {
        chars += g.length;
        i += n;
      } else {
        seen.add(g);
        i += 1;
      }
    }
    duplicate[n] = chars / text.length;
  }
  const paragraphs = shares(text.split(/\n{2,}/));
  const lines = shares(text.split(/\n+/));
  return {
    duplicateParagraphFraction: paragraphs.fraction,
    duplicateParagraphCharFraction: paragraphs.charFraction,
    duplicateLineFraction: lines.fraction,
    duplicateLineCharFraction: lines.charFraction,
    topNgramCharFraction: top,
    duplicateNgramCharFraction: duplicate,
  };
}

function firstBrokenRule(s: ReturnType<typeof referenceStats>, o: FilterOptions): string | null {
  if (s.duplicateParagraphFraction > o.maxDuplicateParagraphFraction) return 'duplicate-paragraphs';
  if (s.duplicateParagraphCharFraction > o.maxDuplicateParagraphCharFraction) return 'duplicate-paragraphs';
  if (s.duplicateLineFraction > o.maxDuplicateLineFraction) return 'duplicate-lines';
  if (s.duplicateLineCharFraction > o.maxDuplicateLineCharFraction) return 'duplicate-lines';
  for (const [n, max] of Object.entries(o.maxTopNgramCharFraction))
    if (s.topNgramCharFraction[Number(n)] > max) return 'top-ngram';
  for (const [n, max] of Object.entries(o.maxDuplicateNgramCharFraction))
    if (s.duplicateNgramCharFraction[Number(n)] > max) return 'duplicate-ngrams';
  return null;
}

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32;
  };
}

const english =
  'The committee met on Thursday to review the plan for the new library. Members said that the building would open in the spring, and that the old reading room would be kept as it was. Several residents asked whether the parking lot could be moved to the other side of the street, since the trees there are older than the town itself. The chair promised an answer by the end of the month.';

function filter(options: Partial<FilterOptions> = {}) {
  return new DocumentFilter({ ...defaultFilterOptions, ...options });
}

describe('DocumentFilter repetition statistics', () => {
  it('equal the plain-string reference on texts with planted repetition', () => {
    const next = random(11);
    const vocabulary = Array.from({ length: 60 }, (_, i) => `word${i}`);
    const f = filter();
    for (let trial = 0; trial < 40; trial++) {
      // Small vocabularies and copied spans make every statistic non-zero somewhere in the trials.
      const lines: string[] = [];
      for (let l = 0; l < 12; l++) {
        const length = 3 + Math.floor(next() * 12);
        lines.push(Array.from({ length }, () => vocabulary[Math.floor(next() * (10 + trial))]).join(' '));
        if (next() < 0.2) lines.push(lines[Math.floor(next() * lines.length)]);
      }
      const text = lines.map((line, i) => (i % 3 === 2 ? `${line}\n` : line)).join('\n');
      const expected = referenceStats(text, [2, 3, 4], [5, 6, 7, 8, 9, 10]);
      const actual = f.repetitionStats(text);
      assert.deepEqual(actual, expected, `trial ${trial}`);
      // The verdict (which may skip passes that cannot fire) names the first rule the reference values break.
      const verdict = filter({ minWords: 0, minLetterWordFraction: 0 }).check(text, 'text').verdict;
      assert.equal(
        verdict?.reason ?? null,
        firstBrokenRule(expected, defaultFilterOptions),
        `trial ${trial}`,
      );
    }
  });
});

describe('DocumentFilter rules', () => {
  const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
  const numbers = Array.from({ length: 60 }, (_, i) => String(1000 + i)).join(' ');
  const englishWords = english.split(' ').length;
  const stats = (text: string) => referenceStats(normalizeText(text, 'text'), [2, 3, 4], [5, 6, 7, 8, 9, 10]);
  const f3 = (x: number) => x.toFixed(3);
  const lines = `${english}\n${english.slice(0, 160)}\n${english.slice(0, 160)}`;
  const paragraphs = `${english}\n\nSubscribe now.\n\n${english.replace('Thursday', 'Friday')}\n\nSubscribe now.\n\nSubscribe now.`;
  const clickHere = `${english} ${Array.from({ length: 40 }, (_, i) => `click here item${i}`).join(' ')}`;
  const repeated = `${english} ${'the quick brown fox jumps over the lazy dog again and again '.repeat(4)}`;
  const german =
    'Der Ausschuss traf sich am Donnerstag, um den Plan für die neue Bibliothek zu prüfen. Die Mitglieder sagten, dass das Gebäude im Frühjahr eröffnet werde und dass der alte Lesesaal so bleiben solle, wie er ist. Mehrere Anwohner fragten, ob der Parkplatz auf die andere Seite der Straße verlegt werden könne, da die Bäume dort älter sind als die Stadt selbst.';
  // Expected details come from counting by hand (length, letters) or from the reference statistics above.
  const cases: [string, Partial<FilterOptions>, string, string][] = [
    ['too-short', {}, words(10), '10 words < 50'],
    ['too-long', { minWords: 0, maxWords: 20 }, words(30), '30 words > 20'],
    [
      'regex',
      { rejectPatterns: ['lorem ipsum'] },
      `${english} Lorem ipsum dolor sit amet, lorem ipsum.`,
      'matches /lorem ipsum/',
    ],
    [
      'non-letters',
      {},
      `${english} ${numbers}`,
      `words with letters ${f3(englishWords / (englishWords + 60))} < 0.8`,
    ],
    ['language', { languages: ['en'] }, german, 'language de not in en'],
    [
      'duplicate-paragraphs',
      {},
      paragraphs,
      `duplicate paragraphs ${f3(stats(paragraphs).duplicateParagraphFraction)} > 0.3`,
    ],
    ['duplicate-lines', {}, lines, `duplicate lines ${f3(stats(lines).duplicateLineFraction)} > 0.3`],
    [
      'duplicate-lines',
      { maxDuplicateLineFraction: 0.5 },
      lines,
      `characters in duplicate lines ${f3(stats(lines).duplicateLineCharFraction)} > 0.2`,
    ],
    [
      'top-ngram',
      {},
      clickHere,
      `characters in the most frequent 2-gram ${f3(stats(clickHere).topNgramCharFraction[2])} > 0.2`,
    ],
    [
      'duplicate-ngrams',
      {},
      repeated,
      `characters in duplicate 5-grams ${f3(stats(repeated).duplicateNgramCharFraction[5])} > 0.15`,
    ],
  ];
  for (const [reason, options, text, detail] of cases) {
    it(`removes with reason ${reason}: ${detail}`, () => {
      const { verdict } = filter({ minWords: 50, ...options }).check(normalizeText(text, 'text'), 'text');
      assert.deepEqual(verdict, { reason, detail });
    });
  }

  it('keeps ordinary prose and checks code only for length and patterns', () => {
    assert.equal(filter({ minWords: 20 }).check(english, 'text').verdict, null);
    const code = Array.from({ length: 30 }, () => '  }\n}').join('\n');
    assert.equal(filter({ minWords: 20 }).check(code, 'code').verdict, null);
    assert.equal(filter({ minWords: 20 }).check(code, 'code').language, 'code');
    assert.equal(
      filter({ minWords: 20, rejectPatterns: ['^ {2}\\}'] }).check(code, 'code').verdict?.reason,
      'regex',
    );
  });
});

describe('detectLanguage', () => {
  const samples: [string, string][] = [
    ['en', english],
    [
      'de',
      'Die Stadt hat beschlossen, den alten Bahnhof nicht abzureißen. Stattdessen soll dort ein Museum entstehen, in dem die Geschichte der Region gezeigt wird. Viele Bürger haben sich für diese Lösung eingesetzt, weil das Gebäude für sie ein Stück Heimat ist.',
    ],
    [
      'fr',
      "La ville a décidé de ne pas démolir l'ancienne gare. À la place, un musée y sera installé pour montrer l'histoire de la région. Beaucoup d'habitants se sont battus pour cette solution, car le bâtiment fait partie de leur vie depuis toujours.",
    ],
    [
      'es',
      'La ciudad ha decidido no derribar la antigua estación. En su lugar se abrirá un museo donde se mostrará la historia de la región. Muchos vecinos han luchado por esta solución, porque el edificio es para ellos una parte de su vida.',
    ],
    [
      'it',
      "La città ha deciso di non demolire la vecchia stazione. Al suo posto sarà aperto un museo che mostrerà la storia della regione. Molti cittadini si sono battuti per questa soluzione, perché l'edificio è per loro una parte della propria vita.",
    ],
    [
      'nl',
      'De stad heeft besloten het oude station niet af te breken. In plaats daarvan komt er een museum waarin de geschiedenis van de regio wordt getoond. Veel bewoners hebben zich voor deze oplossing ingezet, omdat het gebouw voor hen een stuk van hun leven is.',
    ],
    [
      'pt',
      'A cidade decidiu não demolir a antiga estação. No seu lugar será aberto um museu que mostrará a história da região. Muitos moradores lutaram por esta solução, porque o edifício é para eles uma parte da sua vida.',
    ],
    ['unknown', 'Город решил не сносить старый вокзал. Вместо этого там откроется музей истории региона.'],
    ['unknown', 'const total = items.reduce((sum, item) => sum + item.price, 0); return total;'],
  ];
  for (const [language, text] of samples) {
    it(`recognizes ${language}`, () => assert.equal(detectLanguage(text).language, language));
  }
});

describe('normalizeText', () => {
  it('composes to NFC, unifies line breaks, drops controls and invisible characters, tidies spaces', () => {
    const input = '\uFEFF  Cafe\u0301\u00A0au\u200Blait\r\nline\ttwo \u0007 end \r\r\n\n\nlast\u2028para  ';
    assert.equal(normalizeText(input, 'text'), 'Café aulait\nline two end\n\nlast\npara');
  });

  it('keeps indentation of code and strips trailing spaces', () => {
    assert.equal(
      normalizeText('\n\nfunction f() {\r\n\treturn 1;   \n}\n\n\n\n', 'code'),
      'function f() {\n\treturn 1;\n}',
    );
  });

  it('gives the same result on its fast path as the full chain of replacements', () => {
    // Reference: every replacement applied unconditionally, in order.
    const reference = (text: string) =>
      (text as unknown as { toWellFormed(): string })
        .toWellFormed()
        .normalize('NFC')
        .replace(/\r\n?|[\u000B\u000C\u0085\u2028\u2029]/g, '\n')
        .replace(/[\u0000-\u0008\u000E-\u001F\u007F-\u009F\u00AD\u200B\u2060\uFEFF]/g, '')
        .replace(/[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g, ' ')
        .replace(/[ \t]+/g, ' ')
        .replace(/ ?\n ?/g, '\n')
        .replace(/\n{3,}/g, '\n\n')
        .trim();
    const alphabet = [
      'a',
      'b',
      ' ',
      ' ',
      '\n',
      '\t',
      '\r',
      'e\u0301',
      '\u00A0',
      '\u200B',
      '\u0007',
      '\uD83D\uDE00',
      '\uD800',
      'ß',
      '\u2028',
    ];
    const next = random(5);
    for (let trial = 0; trial < 2000; trial++) {
      const text = Array.from(
        { length: Math.floor(next() * 12) },
        () => alphabet[Math.floor(next() * alphabet.length)],
      ).join('');
      assert.equal(normalizeText(text, 'text'), reference(text), JSON.stringify(text));
    }
  });

  it('replaces lone surrogates so the text encodes to UTF-8', () => {
    assert.equal(normalizeText('a\uD800b \uDC00c 😀', 'text'), 'a\uFFFDb \uFFFDc 😀');
  });
});
