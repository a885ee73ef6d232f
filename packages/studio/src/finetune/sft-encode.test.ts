import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { trainTokenizer } from '../tokenizer/train.ts';
import type { Conversation } from './conversation.ts';
import { encodeConversation, encodeConversations } from './sft-encode.ts';

const dir = mkdtempSync(join(tmpdir(), 'ownlm-sft-encode-'));
let chatml: Tokenizer;

/** A tokenizer in `dir/name` with the ChatML tokenizer's vocabulary and another chat template. */
function withTemplate(name: string, template: string): Tokenizer {
  cpSync(join(dir, 'tok'), join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'chat_template.jinja'), template);
  return Tokenizer.fromFile(join(dir, name));
}

before(async () => {
  const lines = [];
  for (let i = 0; i < 200; i++)
    lines.push(`Hello there, how are you ${i}? I am fine, thank you. What is the capital of France? Paris.`);
  writeFileSync(join(dir, 'corpus.txt'), lines.join('\n'));
  await trainTokenizer({
    inputs: [join(dir, 'corpus.txt')],
    outDir: join(dir, 'tok'),
    vocabSize: 320,
    workers: 0,
  });
  chatml = Tokenizer.fromFile(join(dir, 'tok'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const ids = (tokenizer: Tokenizer, text: string) => [
  ...tokenizer.encode(text, { addSpecialTokens: false, parseSpecial: true }),
];
/** The texts of the label runs (maximal stretches of positions that are not -100). */
function labelledTexts(tokenizer: Tokenizer, labels: Int32Array): string[] {
  const runs: string[] = [];
  let run: number[] = [];
  for (const label of [...labels, -100]) {
    if (label !== -100) run.push(label);
    else if (run.length > 0) {
      runs.push(tokenizer.decode(run));
      run = [];
    }
  }
  return runs;
}

describe('encodeConversation', () => {
  const conversation: Conversation = {
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello there, how are you?' },
      { role: 'assistant', content: 'I am fine, thank you.' },
      { role: 'user', content: 'What is the capital of France?' },
      { role: 'assistant', content: 'Paris.' },
    ],
  };

  it("ChatML: the ids are the template's rendering; labels cover '\\n' + content + '<|im_end|>\\n' of each answer", () => {
    const { ids: got, labels, truncated } = encodeConversation(chatml, conversation, { context: 1000 });
    assert.deepEqual(
      [...got],
      [...chatml.encodeChat(conversation.messages.map(({ role, content }) => ({ role, content })))],
    );
    assert.equal(truncated, false);
    // By hand: the rendering cut where TRL's Qwen2.5 training template opens and closes {% generation %}.
    const parts: [string, boolean][] = [
      [
        '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello there, how are you?<|im_end|>\n<|im_start|>assistant',
        false,
      ],
      ['\nI am fine, thank you.<|im_end|>\n', true],
      ['<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant', false],
      ['\nParis.<|im_end|>\n', true],
    ];
    const expected = parts.flatMap(([text, trained]) => ids(chatml, text).map((id) => (trained ? id : -100)));
    assert.deepEqual([...labels], expected);
    assert.deepEqual(labelledTexts(chatml, labels), [
      '\nI am fine, thank you.<|im_end|>\n',
      '\nParis.<|im_end|>\n',
    ]);
    const imEnd = chatml.tokenToId('<|im_end|>')!;
    assert.equal(labels.filter((id) => id === imEnd).length, 2, 'the end-of-turn token is trained on');
  });

  it('weight 0 masks that assistant turn only', () => {
    const weighted: Conversation = {
      messages: conversation.messages.map((m, i) => (i === 2 ? { ...m, weight: 0 as const } : m)),
    };
    const { labels } = encodeConversation(chatml, weighted, { context: 1000 });
    assert.deepEqual(labelledTexts(chatml, labels), ['\nParis.<|im_end|>\n']);
  });

  it('another prefix-preserving template: the span starts after its generation prompt', () => {
    const plain = withTemplate(
      'plain',
      "{% for m in messages %}{{ '### ' + m.role + ':\\n' + m.content + '\\n\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '### assistant:\\n' }}{% endif %}",
    );
    const { labels } = encodeConversation(plain, conversation, { context: 1000 });
    assert.deepEqual(labelledTexts(plain, labels), ['I am fine, thank you.\n\n', 'Paris.\n\n']);
  });

  it('refuses a template that is not prefix-preserving, naming it', () => {
    const lastOnly = withTemplate(
      'last',
      '{% for m in messages %}{% if loop.last %}<|im_start|>{{ m.role }}\\n{{ m.content }}<|im_end|>\\n{% endif %}{% endfor %}',
    );
    assert.throws(
      () => encodeConversation(lastOnly, conversation, { context: 1000 }),
      /the tokenizer's ChatML chat template \("\{% for m in messages %\}.*is not prefix-preserving: rendering message 2 \(user\) changes what the earlier ones rendered/,
    );
  });

  it('cuts at the context and counts cut and dropped conversations', () => {
    const full = encodeConversation(chatml, conversation, { context: 1000 });
    const firstAnswerEnd = full.labels.findLastIndex((l, i) => l !== -100 && full.labels[i + 1] === -100) + 1;
    const cut = encodeConversation(chatml, conversation, { context: firstAnswerEnd + 3 });
    assert.equal(cut.truncated, true);
    assert.deepEqual([...cut.ids], [...full.ids.slice(0, firstAnswerEnd + 3)]);
    assert.deepEqual([...cut.labels], [...full.labels.slice(0, firstAnswerEnd + 3)]);

    const short: Conversation = {
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Paris.' },
      ],
    };
    const context = encodeConversation(chatml, short, { context: 1000 }).ids.length;
    assert.ok(context <= full.labels.findIndex((l) => l !== -100));
    const dataset = encodeConversations(chatml, [conversation, short], { context });
    // The long conversation's first answer starts past the short one's length: nothing left to train on.
    assert.equal(dataset.truncated, 1);
    assert.equal(dataset.dropped, 1);
    assert.equal(dataset.examples.length, 1);
    assert.equal(dataset.assistantTokens, ids(chatml, '\nParis.<|im_end|>\n').length);
  });
});
