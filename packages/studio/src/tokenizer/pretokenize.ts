// Pre-tokenization regexes, stored verbatim as tokenizer.json holds them (docs/FORMATS.md#pre-tokenizer-regexes),
// and their translation to JavaScript. The translation is exact for the constructs it accepts and refuses the
// rest by name, so a tokenizer.json that would split differently here than in Hugging Face fails to load
// instead of silently producing other ids.
import { DataError } from '../data/errors.ts';

/** GPT-2 (`openai/gpt-2` encoder.py; built into tokenizers' ByteLevel with `use_regex: true`). */
export const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** Llama 3 (also OpenAI's cl100k_base): case-insensitive contractions, digits in groups of up to three. */
export const LLAMA3_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Qwen 2: the Llama 3 pattern with single digits. */
export const QWEN2_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/**
 * The Qwen 2 pattern as llama.cpp writes it, contractions spelled with explicit cases instead of (?i:…).
 * Oniguruma's case folding makes "'ſ" (U+017F) a contraction under (?i:…); llama.cpp and tokenizers.js do
 * not, so tokenizers ownlm trains use this spelling, on which all of them agree.
 */
export const QWEN2_CPP_PATTERN = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

// Oniguruma's \s is Unicode White_Space; JavaScript's \s also matches U+FEFF and misses U+0085.
const WHITE_SPACE = String.raw`\t\n\v\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000`;
const SYNTAX_CHARACTERS = new Set('^$\\.*+?()[]{}|/');
// Oniguruma's case-insensitive matching uses Unicode case folding, under which ſ (U+017F) equals s and the
// Kelvin sign (U+212A) equals k; the other ASCII letters only fold to their two cases.
const FOLDS: Record<string, string> = { s: 'sSſ', k: 'kK\u212a' };

/** Translates an Oniguruma pattern from tokenizer.json to a JavaScript RegExp with the `gu` flags. */
export function compilePattern(pattern: string, where = 'pattern'): RegExp {
  const refuse = (construct: string): never => {
    throw new DataError(
      'input-unsupported',
      `${where}: the regex construct ${construct} is not supported (pattern ${JSON.stringify(pattern)})`,
    );
  };
  let out = '';
  let inClass = false;
  let depth = 0;
  const ignoreCaseDepths: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const ignoreCase = ignoreCaseDepths.length > 0;
    if (c === '\\') {
      const n = pattern[++i];
      if (n === undefined) refuse('a trailing backslash');
      if (n === 's') out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (n === 'S')
        out += inClass ? refuse(String.raw`\S inside a character class`) : `[^${WHITE_SPACE}]`;
      else if (n === 'p' || n === 'P') {
        const close = pattern.indexOf('}', i);
        if (pattern[i + 1] !== '{' || close < 0) refuse(`\\${n} without {name}`);
        if (ignoreCase) refuse(`\\${n}{…} inside (?i:…)`);
        out += `\\${n}{${propertyName(pattern.slice(i + 2, close), refuse)}}`;
        i = close;
      } else if (n === 'x' && pattern[i + 1] === '{') {
        const close = pattern.indexOf('}', i);
        if (close < 0) refuse(String.raw`\x{ without }`);
        out += `\\u{${pattern.slice(i + 2, close)}}`;
        i = close;
      } else if ('rntfv'.includes(n) || n === 'x' || n === 'u') out += `\\${n}`;
      else if (/[A-Za-z0-9]/.test(n)) refuse(`\\${n}`);
      else out += SYNTAX_CHARACTERS.has(n) || (inClass && n === '-') ? `\\${n}` : n;
      continue;
    }
    if (inClass) {
      if (c === '[') refuse('a nested character class');
      if (c === ']') inClass = false;
      else if (ignoreCase && /[A-Za-z]/.test(c)) refuse('a letter in a character class inside (?i:…)');
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') out += pattern[++i];
      if (pattern[i + 1] === ']') refuse('[] or [^] with a leading ]');
      continue;
    }
    if (c === '(') {
      if (pattern.startsWith('(?i:', i)) {
        ignoreCaseDepths.push(depth);
        out += '(?:';
        i += 3;
      } else if (pattern[i + 1] === '?' && !/^\(\?(?::|=|!|<=|<!|<[A-Za-z])/.test(pattern.slice(i, i + 4))) {
        refuse(`the group ${pattern.slice(i, i + 4)}…`);
      } else out += c;
      depth++;
      continue;
    }
    if (c === ')') {
      depth--;
      if (ignoreCaseDepths.at(-1) === depth) ignoreCaseDepths.pop();
      out += c;
      continue;
    }
    if ((c === '*' || c === '+' || c === '?' || c === '}') && pattern[i + 1] === '+')
      refuse(`the possessive quantifier ${c}+`);
    if (ignoreCase && /[A-Za-z]/.test(c)) {
      const lower = c.toLowerCase();
      out += `[${FOLDS[lower] ?? lower + lower.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  if (inClass || depth !== 0) refuse('an unbalanced bracket or parenthesis');
  try {
    return new RegExp(out, 'gu');
  } catch (error) {
    return refuse(`(JavaScript rejects the translation: ${(error as Error).message})`);
  }
}

// Oniguruma accepts scripts without a prefix (\p{Han}); JavaScript needs \p{Script=Han}.
function propertyName(name: string, refuse: (construct: string) => never): string {
  for (const candidate of [name, `Script=${name}`]) {
    try {
      new RegExp(`\\p{${candidate}}`, 'u');
      return candidate;
    } catch {
      // try the next spelling
    }
  }
  return refuse(`\\p{${name}}`);
}

/** How Split keeps the matches: Isolated keeps matches and gaps as pieces, Removed keeps only the gaps. */
export type SplitBehavior = 'Isolated' | 'Removed';

/** Appends the pieces of `text` under one Split step to `out`; empty pieces are dropped, as in tokenizers. */
export function splitPieces(text: string, regex: RegExp, behavior: SplitBehavior, out: string[]): void {
  regex.lastIndex = 0;
  let last = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    const end = m.index + m[0].length;
    if (m.index > last) out.push(text.slice(last, m.index));
    if (end > m.index) {
      if (behavior === 'Isolated') out.push(m[0]);
    } else regex.lastIndex++;
    last = end;
  }
  if (last < text.length) out.push(text.slice(last));
}
