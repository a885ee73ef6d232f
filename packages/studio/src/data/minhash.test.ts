import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NearDuplicateIndex, SignatureStore } from './dedup.ts';
import { candidateProbability, estimateJaccard, lshParameters, MinHasher } from './minhash.ts';

/** Deterministic generator for test corpora (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const vocabulary = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);

function randomWords(next: () => number, count: number): string[] {
  return Array.from({ length: count }, () => vocabulary[Math.floor(next() * vocabulary.length)]);
}

/** Reference: exact Jaccard similarity of the 5-word shingle sets, computed with plain strings and Sets. */
function exactJaccard(a: string[], b: string[], n = 5): number {
  const shingles = (words: string[]) =>
    new Set(words.slice(0, words.length - n + 1).map((_, i) => words.slice(i, i + n).join(' ')));
  const sa = shingles(a);
  const sb = shingles(b);
  let common = 0;
  for (const s of sa) if (sb.has(s)) common += 1;
  return common / (sa.size + sb.size - common);
}

describe('lshParameters', () => {
  it('matches datasketch _optimal_param (scipy quad integration) for equal weights and for weights (0.1, 0.9)', () => {
    // Golden values from datasketch 1.6's lsh._optimal_param, run with scipy 1.17; (0.9, 128, equal) → (5, 25)
    // is also the example in its MinHashLSH docstring.
    const equal: [number, number, number, number][] = [
      [0.9, 128, 5, 25],
      [0.8, 128, 9, 13],
      [0.7, 128, 14, 9],
      [0.5, 128, 25, 5],
      [0.8, 256, 17, 15],
      [0.85, 64, 4, 15],
      [0.7, 256, 25, 10],
      [0.6, 32, 6, 5],
    ];
    for (const [t, n, bands, rows] of equal)
      assert.deepEqual(lshParameters(t, n, 0.5), { bands, rows }, `t=${t} n=${n}`);
    const recall: [number, number, number, number][] = [
      [0.9, 128, 8, 16],
      [0.8, 128, 14, 9],
      [0.7, 128, 20, 6],
      [0.5, 128, 32, 4],
      [0.8, 256, 23, 11],
      [0.85, 64, 7, 9],
      [0.7, 256, 32, 8],
      [0.6, 32, 10, 3],
    ];
    for (const [t, n, bands, rows] of recall)
      assert.deepEqual(lshParameters(t, n), { bands, rows }, `t=${t} n=${n}`);
  });
});

describe('MinHasher', () => {
  it('estimates Jaccard similarity without bias and with the error of ideal MinHash', () => {
    const next = random(7);
    const hasher = new MinHasher({ permutations: 128, shingleSize: 5, seed: 1 });
    const a = new Uint32Array(128);
    const b = new Uint32Array(128);
    const errors: number[] = [];
    for (let trial = 0; trial < 150; trial++) {
      const base = randomWords(next, 200 + Math.floor(next() * 300));
      const copy = base.map((w) =>
        next() < 0.02 + trial / 1000 ? vocabulary[Math.floor(next() * vocabulary.length)] : w,
      );
      hasher.signature(base.join(' '), a, 0);
      hasher.signature(copy.join(' '), b, 0);
      errors.push(estimateJaccard(a, 0, b, 0, 128) - exactJaccard(base, copy));
    }
    const bias = errors.reduce((s, e) => s + e, 0) / errors.length;
    const meanAbsolute = errors.reduce((s, e) => s + Math.abs(e), 0) / errors.length;
    // Ideal MinHash: standard error √(J(1−J)/128) ≤ 0.044, mean absolute error ≤ 0.8·0.044 = 0.035. The bounds
    // leave room for sampling noise of 150 trials but fail for a biased or correlated hash family.
    assert.ok(Math.abs(bias) < 0.01, `bias ${bias}`);
    assert.ok(meanAbsolute < 0.045, `mean absolute error ${meanAbsolute}`);
  });

  it('ignores case and punctuation and is deterministic per seed', () => {
    const one = new Uint32Array(64);
    const two = new Uint32Array(64);
    new MinHasher({ permutations: 64, shingleSize: 3, seed: 5 }).signature(
      'The cat, the HAT; the bat!',
      one,
      0,
    );
    new MinHasher({ permutations: 64, shingleSize: 3, seed: 5 }).signature('the cat the hat the bat', two, 0);
    assert.deepEqual(one, two);
    new MinHasher({ permutations: 64, shingleSize: 3, seed: 6 }).signature('the cat the hat the bat', two, 0);
    assert.notDeepEqual(one, two);
  });
});

describe('NearDuplicateIndex', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-dedup-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('clusters planted near duplicates above the threshold and keeps unrelated documents apart', () => {
    const next = random(42);
    const threshold = 0.8;
    const hasher = new MinHasher({ permutations: 128, shingleSize: 5, seed: 1 });
    const store = new SignatureStore(join(dir, 'signatures.bin'), 128, 16);
    const index = new NearDuplicateIndex(store, { threshold, permutations: 128, keep: 'first' });
    // 60 originals; each gets one copy with a chosen number of substituted words, spread over similarities
    // from ~0.55 to ~0.97 (a substitution breaks up to 5 shingles).
    const documents: string[][] = [];
    for (let i = 0; i < 60; i++) documents.push(randomWords(next, 300));
    for (let i = 0; i < 60; i++) {
      const copy = [...documents[i]];
      const substitutions = 1 + (i % 15);
      for (let s = 0; s < substitutions; s++)
        copy[Math.floor(next() * copy.length)] = vocabulary[Math.floor(next() * vocabulary.length)];
      documents.push(copy);
    }
    const signature = new Uint32Array(128);
    for (const words of documents) {
      hasher.signature(words.join(' '), signature, 0);
      index.add(signature, 0, words.length);
    }
    const clusters = index.finish();
    let found = 0;
    let near = 0;
    for (let i = 0; i < 60; i++) {
      const j = 60 + i;
      const similarity = exactJaccard(documents[i], documents[j]);
      const together = clusters.root[i] === clusters.root[j];
      // The estimate's standard error at 128 permutations is ≤ 0.035 near the threshold: 0.1 is ~3 of them.
      if (similarity >= threshold + 0.1)
        assert.ok(together, `pair ${i} (J=${similarity.toFixed(3)}) not found`);
      if (similarity <= threshold - 0.1)
        assert.ok(!together, `pair ${i} (J=${similarity.toFixed(3)}) clustered`);
      if (Math.abs(similarity - threshold) < 0.1) {
        near += 1;
        if (together) found += 1;
      }
      if (together)
        assert.equal(clusters.keeper[clusters.root[j]], i, 'the first document of a cluster is kept');
    }
    assert.ok(near > 5, 'the planted pairs straddle the threshold');
    // Across the ±0.1 band about half should be found; all or none would mean the threshold is not applied.
    assert.ok(found > 0 && found < near, `found ${found} of ${near} pairs near the threshold`);
    // Originals are unrelated random texts: no two of them may share a cluster.
    const roots = new Set(Array.from({ length: 60 }, (_, i) => clusters.root[i]));
    assert.equal(roots.size, 60);
    store.close();
  });

  it('keeps the longest document of a cluster when asked', () => {
    const store = new SignatureStore(join(dir, 'longest.bin'), 64);
    const index = new NearDuplicateIndex(store, { threshold: 0.7, permutations: 64, keep: 'longest' });
    const hasher = new MinHasher({ permutations: 64, shingleSize: 5, seed: 1 });
    const words = randomWords(random(3), 200);
    const signature = new Uint32Array(64);
    for (const text of [
      words.join(' '),
      `${words.join(' ')} extra words at the end`,
      words.slice(0, 190).join(' '),
    ]) {
      hasher.signature(text, signature, 0);
      index.add(signature, 0, text.length);
    }
    const { root, keeper, size } = index.finish();
    assert.deepEqual([...root], [0, 0, 0]);
    assert.equal(size[0], 3);
    assert.equal(keeper[0], 1);
    store.close();
  });

  it('has the candidate probability of the LSH formula', () => {
    assert.ok(Math.abs(candidateProbability(0.8, { bands: 14, rows: 9 }) - 0.867) < 0.001);
  });
});
