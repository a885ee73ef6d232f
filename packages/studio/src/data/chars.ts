// Per-code-unit lookup tables for the hot loops (word scanning, shingling), so they classify and lowercase
// characters without a regular expression or a string allocation per character. Built once per thread (~20 ms).

/** Bit set in `charClass` for letters (\p{L}) and for digits (\p{N}). */
export const LETTER = 1;
export const DIGIT = 2;

/** Class bits of each UTF-16 code unit; surrogates are 0, so astral characters (emoji…) are never word characters. */
export const charClass = new Uint8Array(65536);
/** Lowercase of each UTF-16 code unit where it is one code unit, else the code unit itself. */
export const lowerCase = new Uint16Array(65536);

const letter = /\p{L}/u;
const number = /\p{N}/u;
for (let c = 0; c < 65536; c++) {
  lowerCase[c] = c;
  if (c >= 0xd800 && c <= 0xdfff) continue;
  const s = String.fromCharCode(c);
  if (letter.test(s)) charClass[c] = LETTER;
  else if (number.test(s)) charClass[c] = DIGIT;
  const lower = s.toLowerCase();
  if (lower.length === 1) lowerCase[c] = lower.charCodeAt(0);
}
