// Markdown → HTML for chat messages. Model output and pasted text are untrusted, so the pipeline itself is the
// sanitizer: raw HTML is escaped (html: false), links keep only http/https/mailto or relative targets, images
// load only from allowed origins, and code blocks get highlight.js markup (escaped by highlight.js) plus a copy
// button that carries no handler; the app wires it by event delegation. No DOM here: it runs in node tests.
import MarkdownIt from 'markdown-it';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

export interface MarkdownOptions {
  /** Origins (`https://cdn.example.com`) images may load from besides the page's own (relative URLs). */
  imageOrigins?: readonly string[];
}

// The languages models and users write most; each one costs bundle size, so the long tail shows as plain text.
const languages = {
  bash,
  c,
  cpp,
  css,
  diff,
  go,
  java,
  javascript,
  json,
  markdown,
  python,
  rust,
  shell,
  sql,
  typescript,
  xml,
  yaml,
};
for (const [name, language] of Object.entries(languages)) hljs.registerLanguage(name, language);

const allowedSchemes = new Set(['http', 'https', 'mailto']);
// Stands in for the page's own origin when resolving relative URLs, so no DOM is needed to tell them apart.
const pageOrigin = 'https://page.invalid';

/** Whether a link target is http(s), mailto or relative. Browsers drop control characters and whitespace inside
 * a scheme and decode percent-escapes in some contexts, so the scheme is read after undoing both. */
export function isSafeLink(url: string): boolean {
  let plain = url;
  try {
    plain = decodeURIComponent(url);
  } catch {
    // A malformed escape cannot form a scheme name; the raw text is checked instead.
  }
  plain = plain.replace(/[\s\p{Cc}\p{Cf}]/gu, '');
  const colon = plain.indexOf(':');
  if (colon < 0) return true;
  const beforeColon = plain.slice(0, colon);
  // A colon after a path, query or fragment start belongs to a relative URL, not a scheme.
  if (/[/?#]/.test(beforeColon)) return true;
  return allowedSchemes.has(beforeColon.toLowerCase());
}

/** Whether an image may load: relative to the page, or from one of the allowed origins. */
export function isAllowedImage(src: string, imageOrigins: readonly string[]): boolean {
  if (src.trim() === '' || !isSafeLink(src)) return false;
  let origin: string;
  try {
    origin = new URL(src, pageOrigin + '/').origin;
  } catch {
    return false;
  }
  return origin === pageOrigin || imageOrigins.includes(origin);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A renderer for chat Markdown with the safety rules above. */
export function createMarkdownRenderer(options: MarkdownOptions = {}): (source: string) => string {
  const imageOrigins = options.imageOrigins ?? [];
  const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
  md.validateLink = isSafeLink;

  const rules = md.renderer.rules;
  rules.fence = (tokens, idx) => {
    const token = tokens[idx];
    const requested = token.info.trim().split(/\s+/)[0] ?? '';
    const language = /^[\w+#.-]{1,32}$/.test(requested) && hljs.getLanguage(requested) ? requested : '';
    const code = language
      ? hljs.highlight(token.content, { language, ignoreIllegals: true }).value
      : escapeHtml(token.content);
    const label = language || 'text';
    return (
      `<div class="code-block"><div class="code-header"><span class="code-language">${escapeHtml(label)}</span>` +
      `<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>` +
      `<pre><code class="hljs${language ? ` language-${language}` : ''}">${code}</code></pre></div>\n`
    );
  };
  rules.image = (tokens, idx, opts, env, self) => {
    const token = tokens[idx];
    const alt = self.renderInlineAsText(token.children ?? [], opts, env);
    const src = String(token.attrGet('src') ?? '');
    if (!isAllowedImage(src, imageOrigins)) {
      return `<span class="blocked-image" title="Image not shown: its origin is not allowed">[image: ${escapeHtml(alt)}]</span>`;
    }
    const title = String(token.attrGet('title') ?? '');
    return (
      `<img src="${escapeHtml(src)}" alt="${escapeHtml(alt)}"` +
      `${title ? ` title="${escapeHtml(title)}"` : ''} loading="lazy" referrerpolicy="no-referrer">`
    );
  };
  // Table alignment as a class rather than markdown-it's style attribute, so the page's CSP needs no inline styles.
  for (const type of ['th_open', 'td_open']) {
    rules[type] = (tokens, idx, opts, _env, self) => {
      const token = tokens[idx];
      const align = /^text-align:(left|right|center)$/.exec(String(token.attrGet('style') ?? ''));
      token.attrs = align ? [['class', `align-${align[1]}`]] : null;
      return self.renderToken(tokens, idx, opts);
    };
  }
  rules.link_open = (tokens, idx, opts, _env, self) => {
    const token = tokens[idx];
    const href = String(token.attrGet('href') ?? '');
    if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(href)) {
      token.attrSet('target', '_blank');
      token.attrSet('rel', 'noopener noreferrer nofollow');
    }
    return self.renderToken(tokens, idx, opts);
  };

  return (source) => md.render(source);
}
