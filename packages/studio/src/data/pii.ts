// Stage 5: PII scrubbing. Each match is replaced by a typed placeholder (<EMAIL>, <PHONE>…) so a model learns
// where such values go without learning the values. Patterns find candidates; validators (Luhn, IBAN mod 97,
// SSN and NANP numbering rules, octet ranges, node:net) reject look-alikes such as version numbers, dates,
// ISBNs, MAC addresses, times and `icon@2x.png`.
import { isIPv6 } from 'node:net';

export type PiiType = 'email' | 'phone' | 'ipv4' | 'ipv6' | 'credit-card' | 'iban' | 'us-ssn';

/** Types in the order they are scrubbed: placeholders hold no digits, so a later pattern never re-matches one. */
export const piiTypes: readonly PiiType[] = [
  'email',
  'iban',
  'credit-card',
  'us-ssn',
  'phone',
  'ipv6',
  'ipv4',
];

export const piiPlaceholders: Record<PiiType, string> = {
  email: '<EMAIL>',
  phone: '<PHONE>',
  ipv4: '<IPV4>',
  ipv6: '<IPV6>',
  'credit-card': '<CREDIT_CARD>',
  iban: '<IBAN>',
  'us-ssn': '<US_SSN>',
};

export type PiiCounts = Record<PiiType, number>;

export function emptyPiiCounts(): PiiCounts {
  return { email: 0, phone: 0, ipv4: 0, ipv6: 0, 'credit-card': 0, iban: 0, 'us-ssn': 0 };
}

const email =
  /[A-Za-z0-9_%+-](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;
// `name@2x.png` is an image name, not an address.
const fileExtension = /\.(?:png|jpe?g|gif|svg|webp|avif|ico|bmp|tiff?|css|js|mjs|ts|json|html?)$/i;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// Issuer prefixes and lengths of the major networks (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay,
// Maestro). A Luhn check alone passes one random digit string in ten.
const cardIssuer =
  /^(?:4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2(?:2[2-9]\d|[3-6]\d\d|7[01]\d|720)\d{12}|3[47]\d{13}|6(?:011|5\d\d|4[4-9]\d)\d{12,15}|35(?:2[89]|[3-8]\d)\d{12,15}|3(?:0[0-5]|[68]\d)\d{11,16}|62\d{14,17}|(?:50|5[6-9]|6\d)\d{10,17})$/;
const card = /(?<![\d.,-])\d(?:[ -]?\d){12,18}(?![\d-]|[.,]\d)/g;

// IBAN lengths by country (SWIFT IBAN registry).
const ibanLengths = new Map(
  'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20'
    .split(' ')
    .map((entry) => [entry.slice(0, 2), Number(entry.slice(2))] as const),
);
const iban = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g;

function ibanChecksumValid(compact: string): boolean {
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = (remainder * (value >= 10 ? 100 : 10) + value) % 97;
  }
  return remainder === 1;
}

/** Length of the IBAN at the start of `match` (spaces included), or 0 when it is not a valid IBAN. */
function ibanPrefixLength(match: string): number {
  const expected = ibanLengths.get(match.slice(0, 2));
  if (!expected) return 0;
  let compact = '';
  let i = 0;
  while (i < match.length && compact.length < expected) {
    if (match[i] !== ' ') compact += match[i];
    i += 1;
  }
  if (compact.length < expected || !ibanChecksumValid(compact)) return 0;
  // The registry length ends the IBAN; a following alphanumeric means this was a longer token.
  return i < match.length && match[i] !== ' ' ? 0 : i;
}

const ssn = /(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])/g;

// International numbers (+country code, 8–15 digits in all, as E.164 allows), North American numbers with
// separators (area code and exchange start with 2–9) and the French/Belgian-style five pairs (06 12 34 56 78).
// Ten bare digits are left alone: they are as often order numbers or timestamps as phones.
const phone =
  /(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?!\d)|(?<![\d-])(?:1[ .-])?(?:\([2-9]\d\d\) ?|[2-9]\d\d[ .-])[2-9]\d\d[ .-]\d{4}(?![\d-])|(?<![\d.-])0[1-9](?:[ .]\d\d){4}(?![\d-]|\.\d)/g;

const ipv4 = /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)/g;

/** Addresses that identify no one: unspecified, loopback, private, link-local, broadcast. */
function ipv4Scrubbed(octets: number[]): boolean {
  const [a, b] = octets;
  if (a === 0 || a === 127 || a === 10 || (a === 169 && b === 254) || (a === 192 && b === 168)) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  return !octets.every((o) => o === 255);
}

function validIpv4(match: string): boolean {
  const parts = match.split('.');
  // Leading zeros (01.02.2023.10) read as dates or versions, not addresses.
  if (parts.some((p) => p.length > 1 && p[0] === '0')) return false;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) && ipv4Scrubbed(octets);
}

function isHexOrColon(c: number): boolean {
  return c === 58 || (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 102);
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c === 95;
}

/**
 * IPv6 addresses, found by growing a run of hex digits and colons around each colon: a regex would be tried
 * at every position of every text, and prose is full of hex letters. Valid per node:net and with at least
 * three groups, so `::1`, `fe80::1`, C++ `a::b`, times (12:30:45) and MAC addresses stay.
 */
function scrubIpv6(text: string, counts: PiiCounts): string {
  let out = '';
  let copied = 0;
  let colon = text.indexOf(':');
  while (colon >= 0) {
    let start = colon;
    while (start > 0 && isHexOrColon(text.charCodeAt(start - 1))) start -= 1;
    let end = colon;
    while (end < text.length && isHexOrColon(text.charCodeAt(end))) end += 1;
    const before = start > 0 ? text.charCodeAt(start - 1) : 32;
    const after = end < text.length ? text.charCodeAt(end) : 32;
    const candidate = text.slice(start, end);
    const bounded = !isWordChar(before) && before !== 46 && !isWordChar(after);
    if (bounded && isIPv6(candidate) && candidate.split(':').filter((g) => g).length >= 3) {
      out += text.slice(copied, start) + piiPlaceholders.ipv6;
      copied = end;
      counts.ipv6 += 1;
    }
    colon = text.indexOf(':', end);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** Replaces PII in `text` with placeholders and adds what it found to `counts`. */
export function scrubPii(text: string, counts: PiiCounts): string {
  const replace = (
    source: string,
    pattern: RegExp,
    type: PiiType,
    valid: (match: string) => boolean,
  ): string =>
    source.replace(pattern, (match) => {
      if (!valid(match)) return match;
      counts[type] += 1;
      return piiPlaceholders[type];
    });
  let out = text;
  if (out.includes('@'))
    out = replace(out, email, 'email', (m) => !fileExtension.test(m) && !m.includes('..'));
  out = out.replace(iban, (match) => {
    const length = ibanPrefixLength(match);
    if (length === 0) return match;
    counts.iban += 1;
    return piiPlaceholders.iban + match.slice(length);
  });
  out = replace(out, card, 'credit-card', (m) => {
    const digits = m.replace(/[ -]/g, '');
    return cardIssuer.test(digits) && luhn(digits);
  });
  out = replace(out, ssn, 'us-ssn', (m) => {
    const [area, group, serial] = m.split('-');
    return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
  });
  out = replace(out, phone, 'phone', (m) => {
    if (m[0] !== '+') return true;
    const digits = m.replace(/\D/g, '').length;
    return digits >= 8 && digits <= 15;
  });
  out = scrubIpv6(out, counts);
  return replace(out, ipv4, 'ipv4', validIpv4);
}
