// Admins' regular expressions run on every message, so each is checked before it is stored: bounded in length,
// no backreferences, no quantifier inside a repeated group (the shape of catastrophic backtracking, as in
// `(a+)+`), and then tried on adversarial texts in a worker thread that is terminated when it runs too long
// (V8 cannot interrupt a match; a terminated thread can). A pattern that fails names its field.
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.ts';

export const MAX_PATTERN_LENGTH = 200;
/** Patterns per policy, over all its rules. */
export const MAX_PATTERNS = 50;
/** How long all of a policy's patterns may take on the adversarial texts together. */
export const PATTERN_TRIAL_MS = 1000;

const invalid = (param: string, message: string) =>
  new AppError('invalid_request', `${param}: ${message}`, param);

/**
 * What follows position `i` when it is a quantifier: its length and whether it repeats a variable number of
 * times (`*`, `+`, `{n,}`, `{n,m}`); `?` and `{n}` leave a match no choice of how often to repeat.
 */
function quantifierAt(pattern: string, i: number): { length: number; repeats: boolean } | null {
  const c = pattern[i];
  if (c === '*' || c === '+') return { length: pattern[i + 1] === '?' ? 2 : 1, repeats: true };
  if (c === '?') return { length: pattern[i + 1] === '?' ? 2 : 1, repeats: false };
  if (c !== '{') return null;
  const counted = /^\{(\d+)(,(\d*))?\}\??/.exec(pattern.slice(i));
  if (!counted) return null;
  const min = Number(counted[1]);
  const max = counted[2] === undefined ? min : counted[3] === '' ? Infinity : Number(counted[3]);
  return { length: counted[0].length, repeats: max > min && max > 1 };
}

/**
 * Why a pattern's shape can backtrack catastrophically, or null: a backreference, or a group repeated by a
 * quantifier that holds a repeating quantifier itself (star height above one).
 */
export function unsafeShape(pattern: string): string | null {
  // One frame per open group: whether something inside it repeats.
  const frames: boolean[] = [false];
  let i = 0;
  const repeatedAfter = (end: number) => {
    const quantifier = quantifierAt(pattern, end);
    return { skip: quantifier?.length ?? 0, repeats: quantifier?.repeats ?? false };
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'backreferences are not allowed';
      const after = repeatedAfter(i + 2);
      if (after.repeats) frames[frames.length - 1] = true;
      i += 2 + after.skip;
    } else if (c === '[') {
      let end = i + 1;
      if (pattern[end] === '^') end++;
      if (pattern[end] === ']') end++;
      while (end < pattern.length && pattern[end] !== ']') end += pattern[end] === '\\' ? 2 : 1;
      const after = repeatedAfter(end + 1);
      if (after.repeats) frames[frames.length - 1] = true;
      i = end + 1 + after.skip;
    } else if (c === '(') {
      frames.push(false);
      i++;
    } else if (c === ')') {
      const innerRepeats = frames.length > 1 ? frames.pop()! : false;
      const after = repeatedAfter(i + 1);
      if (innerRepeats && after.repeats)
        return 'a repeated group holds a repeated part (like (a+)+), which can take exponential time';
      if (innerRepeats || after.repeats) frames[frames.length - 1] = true;
      i += 1 + after.skip;
    } else {
      const after = repeatedAfter(i + 1);
      if (after.repeats) frames[frames.length - 1] = true;
      i += 1 + after.skip;
    }
  }
  return null;
}

/** Texts that make a backtracking pattern slow: long runs of one or two characters, then a mismatch. */
function adversarialTexts(pattern: string): string[] {
  const literals = [...new Set(pattern.replace(/\\./g, '').match(/[\p{L}\p{N} ]/gu) ?? [])].slice(0, 8);
  const characters = [...new Set(['a', '1', ' ', '.', '-', ...literals])];
  return characters.flatMap((c) => [`${c.repeat(4000)}\u0001`, `${(c + 'a').repeat(2000)}\u0001`]);
}

// The worker: compiles each pattern as the rules compile them (flags `iu`) and runs it on its texts, posting
// the index before each so the parent knows which one ran too long.
const TRIAL_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
workerData.forEach(({ pattern, texts }, index) => {
  parentPort.postMessage(index);
  const expression = new RegExp(pattern, 'iu');
  for (const text of texts) expression.test(text);
});
parentPort.postMessage('done');
`;

/** Runs the patterns on adversarial texts; rejects naming the first pattern that is still running at `ms`. */
async function trial(patterns: { pattern: string; param: string }[], ms: number): Promise<void> {
  const work = patterns.map(({ pattern }) => ({ pattern, texts: adversarialTexts(pattern) }));
  const worker = new Worker(TRIAL_WORKER, { eval: true, workerData: work });
  let running = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            invalid(
              patterns[running]!.param,
              'this pattern takes too long on long repetitive texts; simplify it (avoid nested or overlapping repetition)',
            ),
          ),
        ms,
      );
      worker.on('message', (message: number | 'done') => {
        if (message !== 'done') running = message;
        else {
          clearTimeout(timer);
          resolve();
        }
      });
      worker.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } finally {
    await worker.terminate();
  }
}

/**
 * Checks an admin's patterns (each with the request field it came from): count, length, that it compiles,
 * its shape, and its time on adversarial texts. Throws a 400 naming the field of the first that fails.
 */
export async function checkAdminPatterns(
  patterns: { pattern: string; param: string }[],
  trialMs = PATTERN_TRIAL_MS,
): Promise<void> {
  if (patterns.length > MAX_PATTERNS)
    throw invalid('customRules', `at most ${MAX_PATTERNS} patterns in a policy, got ${patterns.length}`);
  for (const { pattern, param } of patterns) {
    if (pattern.length === 0) throw invalid(param, 'a pattern must not be empty');
    if (pattern.length > MAX_PATTERN_LENGTH)
      throw invalid(param, `a pattern is at most ${MAX_PATTERN_LENGTH} characters`);
    try {
      new RegExp(pattern, 'iu');
    } catch (error) {
      throw invalid(param, `invalid regular expression: ${(error as Error).message}`);
    }
    const unsafe = unsafeShape(pattern);
    if (unsafe) throw invalid(param, unsafe);
  }
  if (patterns.length > 0) await trial(patterns, trialMs);
}
