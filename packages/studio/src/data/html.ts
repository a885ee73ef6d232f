// Text extraction from HTML without a DOM: enough for saved pages and exported docs. Boilerplate containers
// (head, nav, footer, aside, forms, scripts, styles) are dropped, block elements become line breaks, and
// entities are decoded. Not a readability algorithm: sidebars without those tags stay in.

const dropped =
  /<(script|style|noscript|template|svg|head|nav|footer|aside|form|iframe|object)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const comment = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<![^>]*>|<\?[^>]*>/g;
const title = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i;
const paragraphBreak =
  /<\/?(?:p|div|h[1-6]|section|article|main|header|blockquote|pre|table|ul|ol|dl|figure|hr|address|details|summary)\b[^>]*>/gi;
const lineBreak = /<(?:br|li|tr|dt|dd|figcaption|caption)\b[^>]*>/gi;
const cellBreak = /<\/?(?:td|th)\b[^>]*>/gi;
const tag = /<\/?[A-Za-z][^>]*>/g;
const entity = /&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/g;

// Named entities: the Latin-1 range (U+00A0–U+00FF in order) plus the common typographic ones.
const latin1Names =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml';
const namedEntities = new Map<string, string>([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
  ['ndash', '\u2013'],
  ['mdash', '\u2014'],
  ['lsquo', '\u2018'],
  ['rsquo', '\u2019'],
  ['sbquo', '\u201a'],
  ['ldquo', '\u201c'],
  ['rdquo', '\u201d'],
  ['bdquo', '\u201e'],
  ['hellip', '\u2026'],
  ['bull', '\u2022'],
  ['trade', '\u2122'],
  ['euro', '\u20ac'],
  ['oelig', '\u0153'],
  ['OElig', '\u0152'],
  ['thinsp', '\u2009'],
  ['ensp', '\u2002'],
  ['emsp', '\u2003'],
  ...latin1Names.split(' ').map((name, i) => [name, String.fromCharCode(0xa0 + i)] as [string, string]),
]);

function decodeEntity(match: string, decimal?: string, hex?: string, name?: string): string {
  if (name !== undefined) return namedEntities.get(name) ?? match;
  const code = decimal !== undefined ? Number(decimal) : parseInt(hex ?? '', 16);
  return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
    ? String.fromCodePoint(code)
    : '\uFFFD';
}

/** Visible text of an HTML document: the title first, then the body with paragraphs as blank lines. */
export function htmlToText(html: string): string {
  const heading = title.exec(html)?.[1] ?? '';
  const body = html
    .replace(comment, ' ')
    .replace(dropped, ' ')
    .replace(/\s+/g, ' ')
    .replace(paragraphBreak, '\n\n')
    .replace(lineBreak, '\n')
    .replace(cellBreak, ' ')
    .replace(tag, '')
    .replace(entity, decodeEntity);
  const titleText = heading.replace(tag, '').replace(entity, decodeEntity).replace(/\s+/g, ' ').trim();
  return titleText ? `${titleText}\n\n${body}` : body;
}
