import assert from 'node:assert/strict';
import { test } from 'node:test';
import MarkdownIt from 'markdown-it';
import { createMarkdownRenderer, isSafeLink } from './markdown.ts';
import { xssPayloads } from './xss-payloads.ts';

// Everything the renderer may emit. An independent reading of the output: it parses tags and attributes the way
// a browser would see them, decoding entities in attribute values before looking at URL schemes.
const allowedTags = new Set(
  'p a img span div button pre code em strong s del ul ol li blockquote hr br h1 h2 h3 h4 h5 h6 table thead tbody tr th td'.split(
    ' ',
  ),
);
const allowedAttributes = new Set(
  'href src alt title class target rel type aria-label start loading referrerpolicy'.split(' '),
);
const namedEntities: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  colon: ':',
  tab: '\t',
  newline: '\n',
};

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);?/gi, (entity, body: string) => {
    if (body[0] === '#') {
      const code = body[1].toLowerCase() === 'x' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return String.fromCodePoint(code > 0x10ffff ? 0xfffd : code);
    }
    return namedEntities[body.toLowerCase()] ?? entity;
  });
}

function dangerousScheme(url: string): boolean {
  const variants = [url];
  try {
    variants.push(decodeURIComponent(url));
  } catch {
    // Not decodable: only the raw form can reach a browser.
  }
  return variants.some((v) => /^(javascript|vbscript|data|file):/i.test(v.replace(/[\s\p{Cc}\p{Cf}]/gu, '')));
}

/** The reasons an HTML fragment is unsafe to insert into the page; empty when it is safe. */
function findUnsafe(html: string): string[] {
  const problems: string[] = [];
  if (/<script/i.test(html)) problems.push('a <script tag');
  for (const [tag, name, attributes] of html.matchAll(
    /<\/?([a-zA-Z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g,
  )) {
    if (!allowedTags.has(name.toLowerCase())) problems.push(`tag ${tag}`);
    for (const [, rawName, rawValue = ''] of attributes.matchAll(
      /([^\s=/"'>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?/g,
    )) {
      const attribute = rawName.toLowerCase();
      const value = decodeEntities(rawValue.replace(/^["']|["']$/g, ''));
      if (attribute.startsWith('on')) problems.push(`event handler attribute in ${tag}`);
      else if (!allowedAttributes.has(attribute)) problems.push(`attribute ${attribute} in ${tag}`);
      if ((attribute === 'href' || attribute === 'src') && dangerousScheme(value)) {
        problems.push(`${attribute} with a dangerous scheme in ${tag}`);
      }
      if (attribute === 'src' && /^([a-z][a-z0-9+.-]*:|\/\/)/i.test(value.trim())) {
        problems.push(`image from another origin in ${tag}`);
      }
    }
  }
  return problems;
}

const render = createMarkdownRenderer();

test('no XSS payload survives rendering', () => {
  assert.ok(xssPayloads.length > 80);
  for (const payload of xssPayloads) {
    const html = render(payload);
    assert.deepEqual(findUnsafe(html), [], `payload ${JSON.stringify(payload)} rendered as ${html}`);
    assert.doesNotMatch(html, /<script/i);
    // Every literal quote in the output delimits an attribute value (text escapes its quotes), so dropping the
    // values leaves only attribute names to look at.
    assert.doesNotMatch(html.replace(/"[^"]*"/g, '""'), /<[^>]*\son[a-z]+\s*=/i);
    assert.doesNotMatch(html, /<[^>]*href\s*=\s*["']?\s*javascript:/i);
  }
  // All payloads in one message too, so none relies on being alone in a document.
  assert.deepEqual(findUnsafe(render(xssPayloads.join('\n\n'))), []);
});

test('the check catches the payloads when Markdown is rendered unsafely', () => {
  const unsafe = new MarkdownIt({ html: true });
  unsafe.validateLink = () => true;
  const caught = xssPayloads.filter((payload) => findUnsafe(unsafe.render(payload)).length > 0);
  for (const payload of [
    '<script>window.__xss=1</script>',
    '<img src=x onerror="window.__xss=1">',
    '[plain](javascript:window.__xss=1)',
    '[hex entity](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:window.__xss=1)',
    '![tracker](https://evil.example/pixel.png)',
  ]) {
    assert.ok(caught.includes(payload), `unsafe rendering of ${payload} went unnoticed`);
  }
  assert.ok(caught.length > xssPayloads.length / 2, `only ${caught.length} caught`);
  // markdown-it's own defaults (html off, its link blocklist) still let remote images through.
  assert.notDeepEqual(findUnsafe(new MarkdownIt().render('![t](https://evil.example/p.png)')), []);
});

test('safe links keep their targets; external ones open in a new tab without referrer', () => {
  const html = render('[a](https://example.com/x?y=1) [b](mailto:me@example.com) [c](/chats/1) [d](#top)');
  assert.match(
    html,
    /<a href="https:\/\/example.com\/x\?y=1" target="_blank" rel="noopener noreferrer nofollow">a<\/a>/,
  );
  assert.match(html, /<a href="mailto:me@example.com" target="_blank"/);
  assert.match(html, /<a href="\/chats\/1">c<\/a>/);
  assert.match(html, /<a href="#top">d<\/a>/);
  assert.match(render('see https://example.com'), /<a href="https:\/\/example.com"/);
});

test('images load from the page origin and allowed origins only', () => {
  const withCdn = createMarkdownRenderer({ imageOrigins: ['https://cdn.example.com'] });
  assert.match(withCdn('![logo](/logo.png)'), /<img src="\/logo.png" alt="logo"/);
  assert.match(withCdn('![c](https://cdn.example.com/a.png)'), /<img src="https:\/\/cdn.example.com\/a.png"/);
  const blocked = withCdn('![pixel](https://evil.example/a.png)');
  assert.doesNotMatch(blocked, /<img/);
  assert.match(blocked, /\[image: pixel\]/);
  assert.doesNotMatch(render('![c](https://cdn.example.com/a.png)'), /<img/);
});

test('code blocks are highlighted, labelled and get a copy button', () => {
  const html = render('```ts\nconst a: number = 1; // <b>\n```');
  assert.match(html, /<span class="code-language">ts<\/span>/);
  assert.match(html, /<button type="button" class="copy-code" aria-label="Copy code">Copy<\/button>/);
  assert.match(html, /<code class="hljs language-ts"><span class="hljs-keyword">const<\/span>/);
  assert.match(html, /&lt;b&gt;/);
  assert.match(render('```\nplain <i>\n```'), /<span class="code-language">text<\/span>.*plain &#60;i&#62;/s);
  assert.match(render('```nosuchlanguage\nx\n```'), /code-language">text</);
});

test('tables and emphasis render', () => {
  const html = render('| a | b |\n|:-|-:|\n| *x* | **y** |');
  assert.match(html, /<table>/);
  assert.match(html, /<td class="align-right"><strong>y<\/strong><\/td>/);
  assert.deepEqual(findUnsafe(html), []);
});

test('isSafeLink accepts web, mail and relative targets only', () => {
  for (const url of [
    'https://a.example',
    'HTTP://a.example',
    'mailto:x@y',
    '/a',
    'a/b',
    '#x',
    '?q=1',
    'a/b:c',
  ]) {
    assert.ok(isSafeLink(url), url);
  }
  for (const url of [
    'javascript:x',
    ' JavaScript:x',
    'java%09script:x',
    'data:text/html,x',
    'tel:1',
    'x:y',
  ]) {
    assert.ok(!isSafeLink(url), url);
  }
});
