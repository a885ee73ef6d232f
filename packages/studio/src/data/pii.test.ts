import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyPiiCounts, scrubPii, type PiiType } from './pii.ts';

function scrub(text: string) {
  const counts = emptyPiiCounts();
  return { text: scrubPii(text, counts), counts };
}

// Real-format values: the card numbers are the networks' published test numbers, the IBANs the registry's
// examples, the addresses from the documentation ranges (RFC 5737, RFC 3849).
const pii: [PiiType, string, string][] = [
  ['email', 'Write to jane.doe+news@example.co.uk today.', 'Write to <EMAIL> today.'],
  ['email', 'Contact: J_Smith@mail.example.org.', 'Contact: <EMAIL>.'],
  ['phone', 'Call +1 415 555 0132 now.', 'Call <PHONE> now.'],
  ['phone', 'Call +44 20 7946 0958.', 'Call <PHONE>.'],
  ['phone', 'Office: (415) 555-0132, home 415.555.0199.', 'Office: <PHONE>, home <PHONE>.'],
  ['phone', 'Toll free 1-800-555-0199.', 'Toll free <PHONE>.'],
  ['phone', 'Portable : 06 12 34 56 78.', 'Portable : <PHONE>.'],
  ['ipv4', 'Login from 203.0.113.42 failed.', 'Login from <IPV4> failed.'],
  ['ipv4', 'Server 8.8.4.4.', 'Server <IPV4>.'],
  ['ipv6', 'Host 2001:db8:85a3::8a2e:370:7334 replied.', 'Host <IPV6> replied.'],
  ['ipv6', 'Full 2001:0db8:0000:0000:0000:ff00:0042:8329.', 'Full <IPV6>.'],
  ['credit-card', 'Visa 4111 1111 1111 1111 expires.', 'Visa <CREDIT_CARD> expires.'],
  ['credit-card', 'Card: 5500-0000-0000-0004.', 'Card: <CREDIT_CARD>.'],
  ['credit-card', 'Amex 378282246310005 ok', 'Amex <CREDIT_CARD> ok'],
  ['iban', 'Pay to DE89 3704 0044 0532 0130 00 please.', 'Pay to <IBAN> please.'],
  ['iban', 'IBAN GB82WEST12345698765432.', 'IBAN <IBAN>.'],
  ['iban', 'FR14 2004 1010 0505 0001 3M02 606 is French.', '<IBAN> is French.'],
  ['us-ssn', 'SSN 078-05-1120 on file.', 'SSN <US_SSN> on file.'],
];

// Strings that look like PII and are not; each must come out unchanged.
const lookAlikes = [
  'Retina icon at logo@2x.png and sprite@3x.webp',
  'user at example dot com, @mention, a@b',
  'Released 2021-03-04, ISBN 978-3-16-148410-0, pages 1990-2000',
  'Version 1.2.3.4.5 and OID 1.3.6.1.4.1 and 999.1.2.3',
  'Dates 01.02.2023.10 are not addresses',
  'Loopback 127.0.0.1, private 192.168.1.20 and 10.0.0.8, broadcast 255.255.255.255',
  'MAC 00:1A:2B:3C:4D:5E and time 12:30:45 and std::vector and ::1',
  'Order 4111 1111 1111 1112 fails Luhn',
  'Random 1234 5678 9012 3456 is no card',
  'IBAN-like DE89 3704 0044 0532 0130 01 has a bad checksum',
  'Invalid SSNs 000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567, 123-45-0000',
  'Short 555-0132 and order 4155550132 and 123-45-678',
  'Area code 123 555 0132 starts with 1',
  'Pi is 3.14159265358979323846',
];

describe('scrubPii', () => {
  for (const [type, input, expected] of pii) {
    it(`replaces ${type}: ${input}`, () => {
      const { text, counts } = scrub(input);
      assert.equal(text, expected);
      const replaced = expected.split(/<[A-Z_0-9]+>/).length - 1;
      assert.equal(counts[type], replaced);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      assert.equal(total, replaced, 'no other type counted');
    });
  }

  for (const input of lookAlikes) {
    it(`leaves a look-alike: ${input}`, () => {
      const { text, counts } = scrub(input);
      assert.equal(text, input);
      assert.deepEqual(counts, emptyPiiCounts());
    });
  }

  it('scrubs several types in one text and counts each', () => {
    const { text, counts } = scrub(
      'a@example.com, b@example.com, 078-05-1120, +49 30 1234 5678, 198.51.100.7',
    );
    assert.equal(text, '<EMAIL>, <EMAIL>, <US_SSN>, <PHONE>, <IPV4>');
    assert.deepEqual(counts, { ...emptyPiiCounts(), email: 2, 'us-ssn': 1, phone: 1, ipv4: 1 });
  });
});
