// `ownlm tokenizer encode`: shows how a tokenizer splits text (or decodes ids), for inspection and scripts.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@ownlm/studio';
import type { Command } from '../command.ts';

const usage = `usage: ownlm tokenizer encode --tokenizer DIR [TEXT... | --file PATH] [options]
       ownlm tokenizer encode --tokenizer DIR --decode ID...

Prints the token ids of TEXT (the arguments joined by spaces), or of a file ("-" reads standard input).

options:
  --tokenizer PATH   tokenizer folder or tokenizer.json (required)
  --file PATH        encode this file instead of the arguments
  --tokens           print one "id<TAB>token" line per token: its text as a JSON string, or its bytes in hex
                     when they are part of a character
  --plain            treat special-token text such as "<|im_end|>" as ordinary text
  --decode           the arguments are ids: print their text
  -h, --help         show this help`;

export const command: Command = {
  summary: 'encode text with a tokenizer (or decode ids)',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tokenizer: { type: 'string' },
        file: { type: 'string' },
        tokens: { type: 'boolean' },
        plain: { type: 'boolean' },
        decode: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.tokenizer) {
      console.error(`ownlm tokenizer encode: --tokenizer is required\n\n${usage}`);
      return 2;
    }
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
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function showToken(bytes: Uint8Array): string {
  try {
    return JSON.stringify(strictUtf8.decode(bytes));
  } catch {
    return `<${Array.from(bytes, (b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ')}>`;
  }
}
