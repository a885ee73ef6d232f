import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linePath, linearScale, niceTicks, tickLabel } from './chart.ts';

test('ticks are round steps of 1, 2 or 5 that cover the range', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(2.31, 5.87, 5), [2, 3, 4, 5, 6]);
  assert.deepEqual(niceTicks(0.12, 0.38, 5), [0.1, 0.2, 0.3, 0.4]);
  assert.deepEqual(niceTicks(0.12, 0.38, 10), [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]);
  assert.deepEqual(niceTicks(1, 997, 4), [0, 500, 1000]);
  // A flat loss (one point) still gets an axis around it; reversed bounds are put right.
  assert.deepEqual(niceTicks(3, 3, 4), [2.6, 2.8, 3, 3.2, 3.4]);
  assert.deepEqual(niceTicks(0, 0, 2), [-1, 0, 1]);
  assert.deepEqual(niceTicks(10, 0, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(Number.NaN, 1), []);
  for (const [min, max] of [
    [0.001, 0.0093],
    [-4.2, 17.9],
    [123_456, 987_654],
  ]) {
    const ticks = niceTicks(min, max, 5);
    assert.ok(ticks[0] <= min && ticks.at(-1)! >= max, `${min}..${max} covered by ${ticks}`);
    assert.ok(ticks.length >= 3 && ticks.length <= 12, `${ticks.length} ticks for ${min}..${max}`);
  }
});

test('scales map the domain onto the range, flipped for SVG y', () => {
  const y = linearScale(0, 4, 100, 0);
  assert.equal(y(0), 100);
  assert.equal(y(4), 0);
  assert.equal(y(1), 75);
  assert.equal(linearScale(5, 5, 0, 10)(5), 5);
});

test('paths and labels', () => {
  assert.equal(
    linePath([
      { x: 0, y: 10 },
      { x: 5.25, y: 2.04 },
    ]),
    'M0.0 10.0 L5.3 2.0',
  );
  assert.equal(linePath([]), '');
  assert.equal(tickLabel(0.15, [0.1, 0.15, 0.2]), '0.15');
  assert.equal(tickLabel(3, [2, 3, 4]), '3');
  assert.equal(tickLabel(2.6, [2.6, 2.8, 3]), '2.6');
  assert.equal(tickLabel(400, [0, 200, 400]), '400');
});
