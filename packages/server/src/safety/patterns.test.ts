// Admins' patterns: the shapes that backtrack catastrophically are refused before they are stored, by their
// shape or by the time they take on adversarial texts in a worker thread that is then terminated.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../errors.ts';
import { checkAdminPatterns, MAX_PATTERN_LENGTH, MAX_PATTERNS, unsafeShape } from './patterns.ts';

test('nested repetition and backreferences are unsafe shapes; ordinary patterns are not', () => {
  for (const pattern of [
    '(a+)+$',
    '(?:x*y)*z',
    '([a-z]+\\s?)*!',
    '(\\w{1,9}){2,}',
    '(a)\\1',
    '(?<w>a)\\k<w>',
  ])
    assert.ok(unsafeShape(pattern), pattern);
  for (const pattern of [
    'project\\s+(?:falcon|osprey)',
    '\\bacme-\\d{4}\\b',
    '(?:secret|internal) code',
    '[(+*)]+ literal brackets',
    '(ab)? optional group',
    '(?:\\d{3}-){2}\\d{4}',
    'a\\+b+',
  ])
    assert.equal(unsafeShape(pattern), null, pattern);
});

async function refusal(patterns: string[], trialMs?: number): Promise<AppError> {
  const error = await checkAdminPatterns(
    patterns.map((pattern, i) => ({ pattern, param: `customRules[0].patterns[${i}]` })),
    trialMs,
  ).then(
    () => assert.fail(`accepted ${JSON.stringify(patterns)}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof AppError, String(error));
  assert.equal(error.code, 'invalid_request');
  return error;
}

test('each refusal names the pattern: too long, too many, not compiling, unsafe shape', async () => {
  assert.equal(
    (await refusal(['ok', 'x'.repeat(MAX_PATTERN_LENGTH + 1)])).param,
    'customRules[0].patterns[1]',
  );
  assert.equal((await refusal(Array.from({ length: MAX_PATTERNS + 1 }, () => 'a'))).param, 'customRules');
  assert.match((await refusal(['(unclosed'])).message, /invalid regular expression/);
  assert.match((await refusal(['fine', '(a+)+b'])).message, /patterns\[1\].*exponential/);
});

test('a pattern whose shape passes but which backtracks on long texts is stopped by the trial', async () => {
  // Star height one, but overlapping alternatives under repetition: exponential on "aaaa…" plus a mismatch.
  const slow = '(?:a|aa)+b';
  assert.equal(unsafeShape(slow), null);
  const started = Date.now();
  const error = await refusal(['harmless', slow], 300);
  assert.equal(error.param, 'customRules[0].patterns[1]');
  assert.match(error.message, /takes too long/);
  assert.ok(Date.now() - started < 3000, 'the worker was terminated, not waited for');
  await checkAdminPatterns([{ pattern: 'project\\s+(?:falcon|osprey)', param: 'p' }]);
});
