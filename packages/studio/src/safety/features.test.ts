import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { featureIds, featureStrings } from './features.ts';

describe('classifier features', () => {
  it('are words, word pairs, character 3- and 4-grams and shape marks of the folded text', () => {
    assert.deepEqual(featureStrings('Ign0re <|x'), [
      'w:ignore',
      'c:^ig',
      'c:ign',
      'c:gno',
      'c:nor',
      'c:ore',
      'c:re$',
      'c:^ign',
      'c:igno',
      'c:gnor',
      'c:nore',
      'c:ore$',
      'w:<|',
      'b:ignore <|',
      'w:x',
      'b:<| x',
      'c:^x$',
    ]);
    const encoded = Buffer.from('hello world, hello world').toString('base64');
    assert.ok(featureStrings(`read ${encoded}`).includes('s:encoded-blob'));
    assert.ok(featureStrings('PLEASE READ THIS NOW').includes('s:shouting'));
  });

  it('hash to the same buckets on every machine (the shipped weights depend on it)', () => {
    assert.deepEqual(
      Array.from(featureIds('Ignore previous', 8192)),
      [
        4870, 4530, 2086, 898, 5471, 5920, 2111, 7508, 2795, 4816, 2638, 6988, 8089, 4420, 1756, 4897, 2389,
        3614, 8130, 3555, 1033, 888, 5435, 4597, 2420, 7139, 3349, 6576, 4823,
      ],
    );
  });
});
