// A small built-in language identifier: no model download, good enough to keep a corpus in the languages a
// team asked for. It counts function words (the most frequent words of each language), which make up a third
// to a half of running prose. Limits: only the languages below are known; text under ~20 words, lists, tables
// and code are often 'unknown'; a mixed-language document gets its majority language; closely related
// languages outside the list (Catalan, Galician, Afrikaans…) are reported as their nearest neighbour.

import { charClass, LETTER, lowerCase } from './chars.ts';

/** Function words per language, lowercase. Overlaps (de, a, in…) are allowed: distinct words decide. */
const functionWords: Record<string, string> = {
  en: 'the of and to in is was that for it with as he on be at by this had not are but from or have an they which you were her she there would their we him been has when who will more no if out so said what up its about than into them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three',
  de: 'der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder aber vor zur bis mehr durch man sein wurde sei ich wir ihr kann können diese dieser sehr schon wenn jetzt hier immer doch dann gibt unter wieder ihre seine keine nichts ganz',
  fr: 'de la le et les des en un du une que est pour qui dans par plus pas au sur ne se ce il sont avec ou mais aux son nous vous je elle cette ont été leur ces comme sa ses être fait très sans tout aussi bien même peut deux après avait entre encore donc chez sous elles ils était où lui dont cela faire notre votre quand alors',
  es: 'de la que el en y los del se las por un para con no una su al lo como más pero sus le ya este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante todos uno les ni contra otros ese eso es son está fue ha había ser tiene puede años hace bien así era están estos mi qué tan',
  it: 'di e il la che in per un è del non una con i si da le dei nel al alla della lo gli come ma anche sono ha più delle questo ci su tra dal nella essere suo era stato loro mi ne sua quando molto degli ancora dopo sempre cosa fatto perché questa già ho hanno nelle negli sia anni tutto tutti',
  nl: 'de en van het een in is dat op te zijn met voor niet aan er die ook als bij om maar door of heeft naar uit dan nog wordt tot hij ze ik wel was kan zo al worden werd hun geen over deze dit we zich meer moet hebben wat veel waar jaar twee onze haar mijn zal zou kunnen nu toen',
  pt: 'de a o que e do da em um para é com não uma os no se na por mais as dos como mas foi ao ele das tem à seu sua ou ser quando muito há nos já está eu também só pelo pela até isso ela entre era depois sem mesmo aos ter seus quem nas me esse eles estão você essa num nem suas meu às minha têm numa pelos elas havia seja qual será nós',
};

/** Language codes the detector knows (ISO 639-1). */
export const knownLanguages: readonly string[] = Object.keys(functionWords);

// Function words are stored by the FNV-1a hash of the word (30 bits) in an open-addressing table, so a lookup
// allocates nothing and costs a multiply and a probe or two; a collision with one of the ~500 function words
// is ~5e-7 per word.
const tableBits = 12;
const tableKeys = new Int32Array(1 << tableBits).fill(-1);
// Bit i set: the word is a function word of knownLanguages[i].
const tableMasks = new Uint8Array(1 << tableBits);

function wordHash(word: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) hash = Math.imul(hash ^ word.charCodeAt(i), 0x01000193);
  return hash & 0x3fffffff;
}

function slotOf(key: number): number {
  let slot = Math.imul(key, 0x9e3779b1) >>> (32 - tableBits);
  while (tableKeys[slot] !== -1 && tableKeys[slot] !== key) slot = (slot + 1) & ((1 << tableBits) - 1);
  return slot;
}

knownLanguages.forEach((code, bit) => {
  for (const word of functionWords[code].split(' ')) {
    const slot = slotOf(wordHash(word));
    tableKeys[slot] = wordHash(word);
    tableMasks[slot] |= 1 << bit;
  }
});

export interface LanguageGuess {
  /** ISO 639-1 code from `knownLanguages`, or 'unknown'. */
  language: string;
  /** Share of the words that are function words of that language (0..1). */
  score: number;
}

/**
 * Guesses the language of `text` from its first `sampleChars` characters. 'unknown' when fewer than `minScore`
 * of the words (runs of letters) are function words of any known language: other languages, other scripts,
 * word lists, code.
 */
export function detectLanguage(text: string, sampleChars = 2000, minScore = 0.15): LanguageGuess {
  const counts = new Array<number>(knownLanguages.length).fill(0);
  const classes = charClass;
  const lower = lowerCase;
  const letterBit = LETTER;
  let words = 0;
  const count = (hash: number) => {
    words += 1;
    const mask = tableMasks[slotOf(hash & 0x3fffffff)];
    if (mask !== 0) for (let bit = 0; bit < counts.length; bit++) if (mask & (1 << bit)) counts[bit] += 1;
  };
  let hash = 0x811c9dc5;
  let inWord = false;
  const end = Math.min(text.length, sampleChars);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((classes[c] & letterBit) !== 0) {
      hash = Math.imul(hash ^ lower[c], 0x01000193);
      inWord = true;
    } else if (inWord) {
      count(hash);
      hash = 0x811c9dc5;
      inWord = false;
    }
  }
  if (inWord) count(hash);
  let best = 0;
  for (let i = 1; i < counts.length; i++) if (counts[i] > counts[best]) best = i;
  const score = words > 0 ? counts[best] / words : 0;
  return score >= minScore ? { language: knownLanguages[best], score } : { language: 'unknown', score };
}
