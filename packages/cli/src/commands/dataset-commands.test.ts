import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'ownlm.mjs');

function ownlm(args: string[], cwd: string) {
  return spawnSync(process.execPath, [bin, 'dataset', ...args], { cwd, encoding: 'utf8' });
}

function readJsonl(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

const dir = mkdtempSync(join(tmpdir(), 'ownlm-cli-dataset-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const good = {
  messages: [
    { role: 'user', content: 'Q' },
    { role: 'assistant', content: 'A' },
  ],
};

// One line per rejection reason of an OpenAI chat file, with what `validate` must print for it.
const badLines: [unknown, string][] = [
  ['{"messages": [', 'invalid JSON: '],
  ['[1]', 'must be a JSON object, got an array'],
  [
    { messages: [{ role: 'tool', content: 'x' }, good.messages[1]] },
    'messages[0].role: unknown role "tool" (expected system, user or assistant)',
  ],
  [{ messages: [good.messages[0], { role: 'assistant', content: ' ' }] }, 'messages[1].content: is empty'],
  [{ messages: [good.messages[0]] }, 'no assistant turn to train on'],
  [
    { messages: [good.messages[0], { role: 'assistant', content: 'A', weight: 2 }] },
    'messages[1].weight: must be 0 or 1, got number 2',
  ],
  [
    { messages: [{ role: 'user', content: 'Q', weight: 1 }, good.messages[1]] },
    'messages[0].weight: is only allowed on assistant messages',
  ],
  [
    { messages: [{ role: 'user', content: 42 }, good.messages[1]] },
    'messages[0].content: must be a string, got number 42',
  ],
  [
    { messages: [good.messages[0], { role: 'system', content: 'S' }, good.messages[1]] },
    'messages[1].role: a system message may only come first (one per conversation)',
  ],
];

describe('ownlm dataset validate', () => {
  it('prints every rejected line as FILE:LINE: field: message, then the statistics', () => {
    const lines = [
      JSON.stringify(good),
      '',
      ...badLines.map(([l]) => (typeof l === 'string' ? l : JSON.stringify(l))),
    ];
    writeFileSync(join(dir, 'mixed.jsonl'), `${lines.join('\n')}\n`);
    const result = ownlm(['validate', 'mixed.jsonl'], dir);
    assert.equal(result.status, 0, result.stderr);
    const printed = result.stdout.split('\n').filter((l) => l.startsWith('mixed.jsonl:'));
    assert.equal(printed.length, badLines.length);
    badLines.forEach(([, message], i) =>
      assert.ok(printed[i].startsWith(`mixed.jsonl:${i + 3}: ${message}`), printed[i]),
    );
    assert.match(result.stdout, /format: openai\nconversations: 1 valid, 9 line\(s\) rejected/);
    assert.match(result.stdout, /turns: 2 \(user 1, assistant 1; system messages 0\)/);
    assert.match(result.stdout, /tokens \(estimated as characters \/ 4\): user 1, assistant 1, system 0/);
  });

  it('exits 1 when nothing is valid, 2 without a file, and names a bad --format', () => {
    writeFileSync(
      join(dir, 'bad.jsonl'),
      '{"conversations":[{"from":"human","value":"Q"},{"from":"function_call","value":"{}"}]}\n',
    );
    const result = ownlm(['validate', 'bad.jsonl'], dir);
    assert.equal(result.status, 1);
    assert.match(
      result.stdout,
      /bad\.jsonl:1: conversations\[1\]\.from: "function_call" turns \(tool use\) are not supported/,
    );
    assert.match(result.stderr, /bad\.jsonl holds no valid conversation/);
    assert.equal(ownlm(['validate'], dir).status, 2);
    const format = ownlm(['validate', 'bad.jsonl', '--format', 'csv'], dir);
    assert.equal(format.status, 1);
    assert.match(format.stderr, /--format must be auto, openai, sharegpt or alpaca, got 'csv'/);
  });
});

describe('ownlm dataset import', () => {
  // The line shapes of docs/FORMATS.md#conversation-datasets and the OpenAI chat conversations each must become.
  const sharegpt = {
    system: 'You are a helpful consultant.',
    conversations: [
      { from: 'human', value: 'How do we cut churn?' },
      { from: 'gpt', value: 'Own the first month.' },
    ],
    tools: '[]',
  };
  const alpaca = { instruction: 'Summarize the text.', input: 'Churn rose to 6%.', output: 'Churn doubled.' };
  const openai = {
    messages: [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.', weight: 0 },
      { role: 'user', content: 'Price?' },
      { role: 'assistant', content: 'Ten euros.' },
    ],
    tools: [],
  };
  const expected = {
    sharegpt: {
      messages: [
        { role: 'system', content: 'You are a helpful consultant.' },
        { role: 'user', content: 'How do we cut churn?' },
        { role: 'assistant', content: 'Own the first month.' },
      ],
    },
    alpaca: {
      messages: [
        { role: 'user', content: 'Summarize the text.\n\nChurn rose to 6%.' },
        { role: 'assistant', content: 'Churn doubled.' },
      ],
    },
    openai: { messages: openai.messages },
  };

  for (const [format, line] of Object.entries({ sharegpt, alpaca, openai })) {
    it(`converts ${format} into train.jsonl in the OpenAI chat form, with dataset.json`, () => {
      writeFileSync(join(dir, `${format}.jsonl`), `${JSON.stringify(line)}\n`);
      const result = ownlm(['import', `${format}.jsonl`, '--out', `${format}-out`, '--format', format], dir);
      assert.equal(result.status, 0, result.stderr);
      assert.match(
        result.stdout,
        new RegExp(`conversations: 1 ${format} → 1 train \\+ 0 validation; 0 line\\(s\\) rejected`),
      );
      assert.deepEqual(readJsonl(join(dir, `${format}-out`, 'train.jsonl')), [
        expected[format as keyof typeof expected],
      ]);
      assert.deepEqual(readJsonl(join(dir, `${format}-out`, 'validation.jsonl')), []);
      const info = JSON.parse(readFileSync(join(dir, `${format}-out`, 'dataset.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(info.sourceFormat, format);
      assert.deepEqual(info.counts, { train: 1, validation: 0, rejected: 0 });
    });
  }

  it('splits by --validation and --seed, keeps the rejected lines in dataset.json, and refuses to overwrite', () => {
    const lines = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ instruction: `Question ${i}`, output: `Answer ${i}` }),
    );
    lines.splice(5, 0, '{"instruction": "no output"}');
    writeFileSync(join(dir, 'many.jsonl'), `${lines.join('\n')}\n`);
    const result = ownlm(
      ['import', 'many.jsonl', '--out', 'many', '--validation', '0.25', '--seed', '3'],
      dir,
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /many\.jsonl:6: output: is missing/);
    const train = readJsonl(join(dir, 'many', 'train.jsonl'));
    const validation = readJsonl(join(dir, 'many', 'validation.jsonl'));
    assert.equal(train.length + validation.length, 40);
    assert.ok(validation.length >= 1 && validation.length < 20, `${validation.length} held out`);
    const info = JSON.parse(readFileSync(join(dir, 'many', 'dataset.json'), 'utf8')) as {
      rejected: unknown[];
    };
    assert.deepEqual(info.rejected, [{ line: 6, field: 'output', message: 'is missing' }]);
    const again = ownlm(['import', 'many.jsonl', '--out', 'many'], dir);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /many already exists and is not empty; pass --force/);
  });
});

describe('ownlm dataset synth', () => {
  it('writes a dataset that `dataset validate` accepts', () => {
    const first = ownlm(
      ['synth', '--out', 'synth-a', '--count', '30', '--seed', '9', '--personas', 'morgan'],
      dir,
    );
    assert.equal(first.status, 0, first.stderr);
    assert.match(
      first.stdout,
      /conversations: 30 generated, 0 exact and 0 near duplicates dropped → \d+ train \+ \d+ validation/,
    );
    const validate = ownlm(['validate', join('synth-a', 'train.jsonl')], dir);
    assert.equal(validate.status, 0, validate.stderr);
    assert.match(validate.stdout, /format: openai\nconversations: \d+ valid, 0 line\(s\) rejected/);
    const unknown = ownlm(['synth', '--out', 'x', '--count', '3', '--arcs', 'zigzag'], dir);
    assert.equal(unknown.status, 1);
    assert.match(
      unknown.stderr,
      /unknown arc "zigzag"; built-in: question-answer, question-clarification-answer/,
    );
  });
});
