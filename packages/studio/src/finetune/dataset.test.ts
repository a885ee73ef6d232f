import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DataError } from '../data/errors.ts';
import type { Conversation } from './conversation.ts';
import {
  readConversationDataset,
  splitConversations,
  toJsonLine,
  writeConversationDataset,
} from './dataset.ts';
import { datasetStats } from './dataset-stats.ts';

function conversation(i: number, extra = ''): Conversation {
  return {
    messages: [
      { role: 'user', content: `Question number ${i}?${extra}` },
      { role: 'assistant', content: `Answer number ${i}.` },
    ],
  };
}

const many = Array.from({ length: 2000 }, (_, i) => conversation(i));

describe('datasetStats', () => {
  const sample: Conversation[] = [
    {
      messages: [
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'one two three' },
        { role: 'assistant', content: 'four five', weight: 0 },
        { role: 'user', content: 'six' },
        { role: 'assistant', content: 'seven eight nine ten' },
      ],
    },
    {
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b c d e f g h i j k l m n o p q r' },
      ],
    },
  ];

  it('counts messages, turns and tokens per role with the given counter, and buckets lengths by powers of two', () => {
    const words = (text: string) => text.split(' ').length;
    assert.deepEqual(datasetStats(sample, words), {
      conversations: 2,
      turns: 6,
      messages: { system: 1, user: 3, assistant: 3 },
      tokens: { system: 2, user: 5, assistant: 23 },
      // 12 tokens → (8, 16]; 18 tokens → (16, 32].
      lengthHistogram: [
        { upTo: 16, count: 1 },
        { upTo: 32, count: 1 },
      ],
      tokenCounter: 'tokenizer',
    });
  });

  it('estimates ceil(characters / 4) without a tokenizer and says so; empty buckets in between are listed', () => {
    const long: Conversation = {
      messages: [
        { role: 'user', content: 'x'.repeat(400) },
        { role: 'assistant', content: 'y' },
      ],
    };
    const stats = datasetStats([sample[1], long]);
    assert.equal(stats.tokenCounter, 'chars/4');
    // 'a' → 1, 33 characters → 9: 10 tokens; 400 → 100 and 'y' → 1: 101 tokens.
    assert.deepEqual(stats.tokens, { system: 0, user: 101, assistant: 10 });
    assert.deepEqual(stats.lengthHistogram, [
      { upTo: 16, count: 1 },
      { upTo: 32, count: 0 },
      { upTo: 64, count: 0 },
      { upTo: 128, count: 1 },
    ]);
    assert.deepEqual(datasetStats([]).lengthHistogram, []);
  });
});

describe('splitConversations', () => {
  it('holds out the conversations whose SHA-1 (seed, line) low 32 bits fall below the fraction, as Python computes it', () => {
    const { train, validation } = splitConversations(many, { validationFraction: 0.1, seed: 7 });
    const script = [
      'import hashlib, sys',
      'for line in sys.stdin.read().splitlines():',
      "    d = hashlib.sha1(b'7\\n' + line.encode()).hexdigest()",
      '    print(1 if int(d[8:16], 16) / 2**32 < 0.1 else 0)',
    ].join('\n');
    const python = spawnSync('python3', ['-c', script], {
      input: many.map((c) => `${toJsonLine(c)}\n`).join(''),
      encoding: 'utf8',
    });
    assert.equal(python.status, 0, python.stderr);
    const held = python.stdout.trim().split('\n').map(Number);
    assert.deepEqual(
      validation,
      many.filter((_, i) => held[i] === 1),
    );
    assert.deepEqual(
      train,
      many.filter((_, i) => held[i] === 0),
    );
    // 2000 draws at p = 0.1: 200 expected, σ ≈ 13.
    assert.ok(validation.length > 150 && validation.length < 250, `${validation.length} held out`);
  });

  it('is the same for the same seed, different for another, and keeps input order', () => {
    const a = splitConversations(many, { validationFraction: 0.2, seed: 1 });
    assert.deepEqual(splitConversations(many, { validationFraction: 0.2, seed: 1 }), a);
    const b = splitConversations(many, { validationFraction: 0.2, seed: 2 });
    assert.notDeepEqual(b.validation, a.validation);
    const index = (c: Conversation) => many.indexOf(c);
    assert.deepEqual(
      a.train.map(index),
      [...a.train.map(index)].sort((x, y) => x - y),
    );
  });

  it('gives each split at least one conversation from 2 on, and none to validation at fraction 0', () => {
    for (let seed = 0; seed < 20; seed++) {
      const pair = splitConversations([conversation(1), conversation(2)], { validationFraction: 0.01, seed });
      assert.equal(pair.validation.length, 1);
      assert.equal(pair.train.length, 1);
      const high = splitConversations([conversation(1), conversation(2), conversation(3)], {
        validationFraction: 0.99,
        seed,
      });
      assert.ok(high.train.length >= 1);
    }
    assert.deepEqual(splitConversations([conversation(1)], { validationFraction: 0.5 }), {
      train: [conversation(1)],
      validation: [],
    });
    assert.equal(splitConversations(many, { validationFraction: 0 }).validation.length, 0);
  });

  it('refuses a fraction outside [0, 1) and a non-integer seed', () => {
    for (const validationFraction of [-0.1, 1, Number.NaN]) {
      assert.throws(
        () => splitConversations(many, { validationFraction }),
        (e: DataError) => e.code === 'options-invalid',
      );
    }
    assert.throws(
      () => splitConversations(many, { validationFraction: 0.1, seed: 0.5 }),
      /seed must be an integer/,
    );
  });
});

describe('writeConversationDataset / readConversationDataset', () => {
  const root = mkdtempSync(join(tmpdir(), 'ownlm-conversation-dataset-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const withWeight: Conversation = {
    messages: [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'Q "quoted" ünïcode' },
      { role: 'assistant', content: 'A\nmultiline', weight: 0 },
      { role: 'user', content: 'Q2' },
      { role: 'assistant', content: 'A2', weight: 1 },
    ],
  };
  const dataset = {
    train: [withWeight, conversation(1)],
    validation: [conversation(2)],
    stats: datasetStats([withWeight, conversation(1), conversation(2)]),
    rejected: [{ line: 4, field: 'messages[0].role', message: 'unknown role "tool"' }],
    sourceFormat: 'sharegpt' as const,
  };

  it('writes OpenAI chat JSONL and dataset.json, and reads back the same dataset', () => {
    const dir = join(root, 'a');
    const info = writeConversationDataset(dir, dataset);
    assert.deepEqual(info.counts, { train: 2, validation: 1, rejected: 1 });
    assert.deepEqual(readdirSync(dir).sort(), ['dataset.json', 'train.jsonl', 'validation.jsonl']);
    const lines = readFileSync(join(dir, 'train.jsonl'), 'utf8').split('\n');
    assert.equal(
      lines[0],
      '{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q \\"quoted\\" ünïcode"},' +
        '{"role":"assistant","content":"A\\nmultiline","weight":0},{"role":"user","content":"Q2"},' +
        '{"role":"assistant","content":"A2","weight":1}]}',
    );
    assert.equal(lines.length, 3);
    assert.deepEqual(readConversationDataset(dir), {
      ...info,
      train: dataset.train,
      validation: dataset.validation,
    });
    assert.deepEqual(readdirSync(root), ['a'], 'no temporary folder is left behind');
  });

  it('leaves a non-empty folder untouched unless overwrite is given', () => {
    const dir = join(root, 'b');
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    assert.throws(
      () => writeConversationDataset(dir, dataset),
      (e: DataError) => e.code === 'output-exists',
    );
    assert.deepEqual(readdirSync(dir), ['keep.txt']);
    writeConversationDataset(dir, dataset, { overwrite: true });
    assert.equal(existsSync(join(dir, 'keep.txt')), false);
    assert.equal(readConversationDataset(dir).validation.length, 1);
  });

  it('names the file, line and field of a damaged dataset, a count mismatch and a missing folder', () => {
    const dir = join(root, 'c');
    writeConversationDataset(dir, dataset);
    const path = join(dir, 'train.jsonl');
    const good = readFileSync(path, 'utf8');
    writeFileSync(path, good.replace('"role":"user","content":"Q2"', '"role":"user","content":""'));
    assert.throws(() => readConversationDataset(dir), /train\.jsonl:1: messages\[3\]\.content: is empty/);
    writeFileSync(path, good.split('\n')[0] + '\n');
    assert.throws(
      () => readConversationDataset(dir),
      /train\.jsonl holds 1 conversations but dataset\.json says 2/,
    );
    assert.throws(
      () => readConversationDataset(join(root, 'missing')),
      (e: DataError) =>
        e.code === 'input-not-found' && /dataset\.json not found; .*ownlm dataset import/.test(e.message),
    );
  });
});
