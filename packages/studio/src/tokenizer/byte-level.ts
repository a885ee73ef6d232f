// GPT-2's reversible byte ↔ character table (docs/FORMATS.md#byte-level-alphabet, `bytes_char()` in tokenizers'
// `byte_level.rs`): printable bytes map to the code point of the same value, the other 68 bytes to U+0100 + n
// in ascending byte order, so every byte string becomes a string without spaces or control characters.

/** BYTE_TO_CHAR[b] is the character that stands for byte b in byte-level vocabularies. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 0x100 + n++);
  }
  return chars;
})();

/** Byte for each byte-level character code (all below U+0144); -1 where a code stands for no byte. */
export const CHAR_CODE_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(0x144).fill(-1);
  for (let b = 0; b < 256; b++) table[BYTE_TO_CHAR[b].charCodeAt(0)] = b;
  return table;
})();

/**
 * The 256 bytes in the code point order of their characters. A trained vocabulary gives them ids 0–255 in
 * this order, which is GPT-2's order and the order in which the Hugging Face trainer sorts its alphabet, so
 * both trainers break count ties between the same pairs the same way.
 */
export const BYTES_BY_CHAR: readonly number[] = Array.from({ length: 256 }, (_, b) => b).sort(
  (a, b) => BYTE_TO_CHAR[a].charCodeAt(0) - BYTE_TO_CHAR[b].charCodeAt(0),
);

/** The byte-level string of bytes [start, end). */
export function bytesToChars(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  for (let i = start; i < end; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

/**
 * Bytes of a vocabulary token's string. Characters outside the table (which only appear in added tokens or
 * hand-edited vocabularies) are kept as their UTF-8 bytes, as the Hugging Face ByteLevel decoder does.
 */
export function charsToBytes(token: string): Uint8Array {
  const out: number[] = [];
  for (const ch of token) {
    const code = ch.codePointAt(0)!;
    const b = code < CHAR_CODE_TO_BYTE.length ? CHAR_CODE_TO_BYTE[code] : -1;
    if (b >= 0) out.push(b);
    else for (const u of utf8.encode(ch)) out.push(u);
  }
  return Uint8Array.from(out);
}

const utf8 = new TextEncoder();
