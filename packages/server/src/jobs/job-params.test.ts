// Job parameters refused by their type's schema: each error names the parameter and says what it must be in the
// platform's words ("a whole number ≥ 1"), never TypeBox's ("integer to be greater than 0"), and quotes the value
// without walking it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../errors.ts';
import { checkJobParams, jobTypesView } from './job-types.ts';

const LORA_TARGETS = 'q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj';

function refusal(type: string, params: Record<string, unknown>): AppError {
  try {
    checkJobParams(type, params);
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, 'invalid_request');
    return error;
  }
  assert.fail(`${type} ${JSON.stringify(params)} was accepted`);
}

test('a value outside its schema is refused in words a person reads, naming the parameter', () => {
  const finetune = { base: 'mv_1', dataset: 'ds_1' };
  for (const [type, params, message] of [
    ['finetune', { ...finetune, rank: 0 }, 'params.rank must be a whole number ≥ 1, got 0'],
    ['finetune', { ...finetune, rank: 2.5 }, 'params.rank must be a whole number ≥ 1, got 2.5'],
    ['finetune', { ...finetune, lr: -1 }, 'params.lr must be a number > 0 or null, got -1'],
    ['finetune', { ...finetune, context: 1 }, 'params.context must be a whole number ≥ 2 or null, got 1'],
    ['finetune', { ...finetune, loraDropout: 1 }, 'params.loraDropout must be a number in [0, 1), got 1'],
    [
      'finetune',
      { ...finetune, targets: ['q_proj', 'q_proj'] },
      `params.targets must be a non-empty list of distinct values among ${LORA_TARGETS}, got an array`,
    ],
    [
      'finetune',
      { ...finetune, targets: ['q_proj', 'lm_head'] },
      `params.targets must be a non-empty list of distinct values among ${LORA_TARGETS}, got "lm_head"`,
    ],
    ['finetune', { ...finetune, merge: 'yes' }, 'params.merge must be true or false, got "yes"'],
    ['finetune', { ...finetune, method: 'qlora' }, 'params.method must be one of lora, full, got "qlora"'],
    [
      'finetune',
      { ...finetune, dataset: 7 },
      'params.dataset must be the id of a dataset of yours (GET /api/datasets), got 7',
    ],
    [
      'eval',
      { model: 'job_1', corpus: '' },
      'params.corpus must be the id of a data-prepare job of yours (GET /api/jobs), got ""',
    ],
    [
      'tokenizer-train',
      { corpus: 'job_1', vocabSize: 1 },
      'params.vocabSize must be a whole number ≥ 2, got 1',
    ],
    ['data-prepare', { demo: true, minWords: -1 }, 'params.minWords must be a whole number ≥ 0, got -1'],
    [
      'data-prepare',
      { demo: true, languages: [] },
      'params.languages must be a non-empty list of non-empty strings, got an array',
    ],
    [
      'pretrain',
      { data: 'job_1', tokenizer: 'job_2', steps: 'ten' },
      'params.steps must be a whole number ≥ 1, got "ten"',
    ],
    [
      'quickstart',
      { steps: 10, stepz: 10 },
      'params.stepz is not a parameter; known: steps, vocabSize, seed',
    ],
    ['pretrain', { tokenizer: 'job_2' }, 'params.data is required'],
  ] as const) {
    const error = refusal(type, params);
    assert.equal(error.message, message);
    assert.equal(error.param, message.split(' ')[0]);
  }
});

test("every parameter of every type says what it must be, in none of TypeBox's words", () => {
  for (const [type, { params }] of Object.entries(jobTypesView())) {
    const required = Object.fromEntries((params.required ?? []).map((name) => [name, 'id_1']));
    for (const name of Object.keys(params.properties)) {
      // An object is no parameter's value.
      const { message } = refusal(type, { ...required, [name]: { nested: true } });
      assert.match(
        message,
        new RegExp(`^params\\.${name} must be (a |an |one of |the id of |true or false).*, got an object$`),
      );
      assert.doesNotMatch(
        message,
        /Expected|to be (greater|less)|must be (integer|number|string|array|boolean)\b/,
      );
    }
  }
});

test('a value nested deep enough to overflow a recursive walk is refused as any other', () => {
  const deep: unknown = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  assert.equal(
    refusal('quickstart', { steps: deep }).message,
    'params.steps must be a whole number ≥ 1, got an array',
  );
  assert.equal(
    refusal('quickstart', { nowhere: deep }).message,
    'params.nowhere is not a parameter; known: steps, vocabSize, seed',
  );
});
