import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataError } from '../data/errors.ts';
import type { ConversationMessage } from './conversation.ts';
import { toJsonLine } from './dataset.ts';
import { importConversations } from './import-conversations.ts';
import {
  builtinArcs,
  builtinPersonas,
  builtinTopics,
  synthesizeConversations,
  type Arc,
  type Topic,
} from './synthetic.ts';

/** A text of `length` words no other call shares, so generated conversations are never near duplicates. */
function unique(n: number, length = 12): string {
  return Array.from({ length }, (_, k) => `w${n}x${k}`).join(' ');
}

const combinations = builtinPersonas.length * builtinArcs.length * builtinTopics.length;

describe('synthesizeConversations with templates', () => {
  it('is deterministic from the seed, and every conversation is a valid OpenAI chat line', async () => {
    const a = await synthesizeConversations({ count: 200, seed: 5 });
    assert.deepEqual(await synthesizeConversations({ count: 200, seed: 5 }), a);
    const b = await synthesizeConversations({ count: 200, seed: 6 });
    assert.notDeepEqual(b.conversations, a.conversations);
    assert.equal(a.conversations.length, 200);
    const text = a.conversations.map(toJsonLine).join('\n');
    const imported = importConversations(text, { format: 'openai' });
    assert.deepEqual(imported.rejected, []);
    assert.deepEqual(imported.conversations, a.conversations);
  });

  it('covers every persona × arc × topic once per pass, turns alternating, each persona keeping its voice', async () => {
    const { conversations } = await synthesizeConversations({ count: combinations, seed: 1 });
    const seen = new Set<string>();
    for (const { messages } of conversations) {
      const persona = builtinPersonas.find((p) => p.description === messages[0].content);
      assert.ok(persona, 'the system message is the persona');
      const turns = messages.slice(1);
      const arc = builtinArcs.find((a) => a.turns.length === turns.length && turnsMatch(a, turns));
      assert.ok(arc);
      turns.forEach((m, i) => assert.equal(m.role, i % 2 === 0 ? 'user' : 'assistant'));
      const topic = builtinTopics.find((t) =>
        turns.some(
          (m) =>
            m.content.includes(t.metric) ||
            t.problems.some((p) => m.content.includes(p)) ||
            t.questions.some((q) => m.content.includes(q)),
        ),
      );
      assert.ok(topic);
      seen.add(`${persona.name}/${arc.name}/${topic.name}`);
      // The last assistant turn always carries the persona's recurring sign-off.
      const closer = persona.voice.closer.split('{')[0];
      assert.ok(turns.at(-1)!.content.includes(closer), `${persona.name}: ${turns.at(-1)!.content}`);
    }
    assert.equal(seen.size, combinations);
  });

  it('uses only the personas, arcs and topics asked for; a new topic name gets generic material', async () => {
    const { conversations } = await synthesizeConversations({
      count: 12,
      seed: 2,
      personas: ['sam'],
      arcs: ['problem-diagnosis-plan'],
      topics: ['inventory accuracy'],
    });
    assert.equal(conversations.length, 12);
    for (const { messages } of conversations) {
      assert.equal(messages[0].content, builtinPersonas.find((p) => p.name === 'sam')!.description);
      assert.match(messages[2].content, /^(Straight answer|Short version)/);
      assert.match(messages.map((m) => m.content).join('\n'), /inventory accuracy/);
      assert.match(
        messages[4].content,
        /Do these three things, in this order:\n1\. .+\n2\. .+\n3\. .+\n\nThe number to watch: progress on inventory accuracy\.$/,
      );
    }
  });

  it('drops exact duplicates of a small scaffold and reports them', async () => {
    const tiny: Arc = { name: 'thanks', turns: ['thanks', 'wrap-up'] };
    // 4 thank-you lines × 3 wrap-up openers: at most 12 distinct conversations per persona.
    const { conversations, report } = await synthesizeConversations({
      count: 30,
      seed: 3,
      personas: ['ines'],
      arcs: [tiny],
      system: false,
    });
    assert.equal(conversations.length, 12);
    assert.equal(new Set(conversations.map(toJsonLine)).size, 12);
    assert.ok(report.exactDuplicates > 0);
    assert.equal(report.generated, conversations.length + report.exactDuplicates + report.nearDuplicates);
  });

  it('refuses unknown names, empty lists, bad counts and arcs that do not alternate', async () => {
    const fails = async (options: Parameters<typeof synthesizeConversations>[0], message: RegExp) =>
      assert.rejects(
        synthesizeConversations(options),
        (e: DataError) => e.code === 'options-invalid' && message.test(e.message),
      );
    await fails({ count: 1, personas: ['nobody'] }, /unknown persona "nobody"; built-in: morgan, sam, ines/);
    await fails({ count: 1, arcs: ['zigzag'] }, /unknown arc "zigzag"/);
    await fails({ count: 1, topics: [] }, /topics must not be empty/);
    await fails({ count: 0 }, /count must be a positive integer/);
    await fails(
      { count: 1, arcs: [{ name: 'backwards', turns: ['answer', 'ask'] }] },
      /arc "backwards": turn 1 \("answer"\) must be a user turn/,
    );
  });
});

describe('synthesizeConversations with a generator', () => {
  // A scripted stand-in for the model: what matters here is what the scaffold asks and what it keeps.
  const topic: Topic = { ...builtinTopics[0], name: 'churn' };

  it('asks for client turns with roles swapped and assistant turns in the persona, and scrubs PII', async () => {
    const prompts: ConversationMessage[][] = [];
    let n = 0;
    const { conversations, report } = await synthesizeConversations({
      count: 2,
      seed: 4,
      personas: ['morgan'],
      arcs: ['question-answer-follow-up'],
      topics: [topic],
      generator: async (messages) => {
        prompts.push(messages);
        n += 1;
        return n === 1 ? ' Write to me at jane.doe@example.com please. ' : unique(n);
      },
    });
    assert.equal(conversations.length, 2);
    assert.equal(prompts.length, 8);
    const [first, second, third] = prompts;
    assert.match(
      first[0].content,
      /^You are a client of a consultant: .*churn.* Ask the consultant a question/,
    );
    assert.deepEqual(first.slice(1), [{ role: 'user', content: 'Begin.' }]);
    assert.match(second[0].content, /^You are Morgan, .*"Here is how I see it\."/);
    assert.deepEqual(second.slice(1), [
      { role: 'user', content: 'Write to me at jane.doe@example.com please.' },
    ]);
    // The client sees its own earlier turn as the assistant's and the consultant's as the user's.
    assert.deepEqual(
      third.slice(1).map((m) => m.role),
      ['assistant', 'user'],
    );
    assert.equal(conversations[0].messages[1].content, 'Write to me at <EMAIL> please.');
    assert.equal(report.pii.email, 1);
  });

  it('replaces near duplicates the generator produces with new draws', async () => {
    const [question, answer] = [unique(0, 60), unique(1, 60)];
    let n = 0;
    const { conversations, report } = await synthesizeConversations({
      count: 3,
      seed: 5,
      personas: ['morgan'],
      arcs: [{ name: 'one', turns: ['ask', 'answer'] }],
      topics: [topic],
      system: false,
      // Calls 1–6 make three conversations that differ only in the answer's last word (near duplicates);
      // later calls are new texts.
      generator: async () => {
        n += 1;
        if (n > 6) return unique(n);
        return n % 2 === 1 ? question : `${answer} ${n}`;
      },
    });
    assert.equal(conversations.length, 3);
    assert.equal(report.nearDuplicates, 2, JSON.stringify(report));
    // The cluster keeps its first conversation; the two new draws are the fresh texts.
    assert.equal(conversations[0].messages[1].content, `${answer} 2`);
    assert.equal(conversations[2].messages[1].content, unique(10));
    assert.equal(report.exactDuplicates, 0);
    assert.equal(report.generated, 3 + report.nearDuplicates);
  });
});

function turnsMatch(arc: Arc, turns: ConversationMessage[]): boolean {
  const kinds = arc.turns;
  // Arcs differ by length or by the clarifying question / diagnosis / plan shape of their second and last turns.
  if (kinds[1] === 'clarifying-question')
    return builtinPersonas.some((p) => turns[1].content.startsWith(p.voice.clarify));
  if (kinds[1] === 'diagnosis')
    return builtinPersonas.some((p) => turns[1].content.includes(p.voice.diagnose));
  if (kinds.length === 6) return true;
  return !builtinPersonas.some(
    (p) => turns[1].content.startsWith(p.voice.clarify) || turns[1].content.includes(p.voice.diagnose),
  );
}
