import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParamSchema } from '../types.ts';
import { choices, defaultParams, numberBox } from './param-schema.ts';

// As GET /api/job-types serves the fine-tune's (a few of them).
const properties: Record<string, ParamSchema> = {
  base: { type: 'string', description: 'the base model' },
  rank: { type: 'integer', exclusiveMinimum: 0, default: 8, description: 'LoRA rank' },
  loraDropout: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.05 },
  lr: {
    anyOf: [{ type: 'number', exclusiveMinimum: 0 }, { type: 'null' }],
    default: null,
    defaultDescription: '2e-4 for lora, 2e-5 for full',
  },
  method: {
    anyOf: [
      { const: 'lora', type: 'string' },
      { const: 'full', type: 'string' },
    ],
    default: 'lora',
  },
  targets: {
    type: 'array',
    items: {
      anyOf: [
        { const: 'q_proj', type: 'string' },
        { const: 'v_proj', type: 'string' },
      ],
    },
    default: ['q_proj', 'v_proj'],
  },
};

test("a form starts from the schema's defaults, null ones included", () => {
  assert.deepEqual(defaultParams(properties), {
    rank: 8,
    loraDropout: 0.05,
    lr: null,
    method: 'lora',
    targets: ['q_proj', 'v_proj'],
  });
});

test('choices are the constants of a parameter or of its items', () => {
  assert.deepEqual(choices(properties.method), ['lora', 'full']);
  assert.deepEqual(choices(properties.targets), ['q_proj', 'v_proj']);
  assert.deepEqual(choices(properties.rank), []);
});

test("a number box takes the schema's limits, whole steps for integers, and says what a null default is", () => {
  assert.deepEqual(numberBox(properties.rank), { min: '1', step: '1' });
  assert.deepEqual(numberBox(properties.loraDropout), { min: '0', step: 'any' });
  assert.deepEqual(numberBox(properties.lr), {
    min: '0',
    step: 'any',
    placeholder: '2e-4 for lora, 2e-5 for full',
  });
});
