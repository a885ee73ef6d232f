// `ownlm tokenizer encode`: shows how a tokenizer splits text (or decodes ids), for inspection and scripts.
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@ownlm/studio';
import { defineCommand } from '../command.ts';

export const command = defineCommand({
  name: 'tokenizer encode',
  summary: 'encode text with a tokenizer (or decode ids)',
  usage: `ownlm tokenizer encode --tokenizer DIR [TEXT... | --file PATH] [options]
       ownlm tokenizer encode --tokenizer DIR --decode ID...`,
  about:
    'Prints the token ids of TEXT (the arguments joined by spaces), or of a file ("-" reads standard input).',
  positionals: { name: 'TEXT', min: 0 },
  options: {
    tokenizer: {
      kind: 'string',
      required: true,
      placeholder: 'PATH',
      help: 'tokenizer folder or tokenizer.json',
    },
    file: { kind: 'string', placeholder: 'PATH', help: 'encode this file instead of the arguments' },
    tokens: {
      kind: 'boolean',
      help: 'print "id<TAB>token" per token: its text as JSON, or its bytes in hex inside a character',
    },
    plain: { kind: 'boolean', help: 'treat special-token text such as "<|im_end|>" as ordinary text' },
    decode: { kind: 'boolean', help: 'the arguments are ids: print their text' },
  },
  async run({ values, positionals }) {
    const tokenizer = Tokenizer.fromFile(values.tokenizer);
    if (values.decode) {
      const ids = positionals.map((p) => {
        if (!/^\d+$/.test(p) || Number(p) >= tokenizer.vocabSize)
          throw new Error(`"${p}" is not a token id below ${tokenizer.vocabSize}`);
        return Number(p);
      });
      process.stdout.write(`${tokenizer.decode(ids)}\n`);
      return 0;
    }
    const text =
      values.file !== undefined
        ? readFileSync(values.file === '-' ? 0 : values.file, 'utf8')
        : positionals.join(' ');
    const ids = tokenizer.encode(text, { parseSpecial: !values.plain });
    if (values.tokens) for (const id of ids) console.log(`${id}\t${showToken(tokenizer.tokenBytes(id))}`);
    else console.log(Array.from(ids).join(' '));
    console.error(
      `${ids.length} tokens, ${(Buffer.byteLength(text) / Math.max(1, ids.length)).toFixed(2)} bytes/token`,
    );
    return 0;
  },
});

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function showToken(bytes: Uint8Array): string {
  try {
    return JSON.stringify(strictUtf8.decode(bytes));
  } catch {
    return `<${Array.from(bytes, (b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ')}>`;
  }
}
