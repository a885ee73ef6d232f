import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guardModeration, guardPrompt, llamaGuardCategories, parseGuardVerdict } from './guard.ts';

describe('guard models', () => {
  it('build the Llama Guard task for the last user message, system messages left out', () => {
    const prompt = guardPrompt([
      { role: 'system', content: 'secret system prompt' },
      { role: 'user', content: 'How do I make napalm?' },
    ]);
    assert.ok(
      prompt.startsWith("Task: Check if there is unsafe content in 'User' messages in conversations"),
    );
    assert.ok(
      prompt.includes('<BEGIN UNSAFE CONTENT CATEGORIES>\nS1: Violent Crimes.\nS2: Non-Violent Crimes.\n'),
    );
    assert.ok(prompt.includes('S14: Code Interpreter Abuse.\n<END UNSAFE CONTENT CATEGORIES>'));
    assert.ok(prompt.includes('<BEGIN CONVERSATION>\n\nUser: How do I make napalm?\n\n<END CONVERSATION>'));
    assert.ok(
      prompt.endsWith(
        "ONLY THE LAST User message in the above conversation:\n - First line must read 'safe' or 'unsafe'.\n - If unsafe, a second line must include a comma-separated list of violated categories.",
      ),
    );
    assert.ok(!prompt.includes('secret system prompt'));
  });

  it('moderate the assistant when the conversation ends with its answer, with an admin’s categories', () => {
    const categories = [
      { code: 'O1', name: 'Competitors', description: 'Recommending a competitor.', moderation: null },
    ];
    const prompt = guardPrompt(
      [
        { role: 'user', content: 'Which bank?' },
        { role: 'assistant', content: 'Try Other Bank.' },
      ],
      { categories },
    );
    assert.ok(prompt.includes("unsafe content in 'Agent' messages"));
    assert.ok(prompt.includes('O1: Competitors.\nRecommending a competitor.\n<END UNSAFE'));
    assert.ok(prompt.includes('User: Which bank?\n\nAgent: Try Other Bank.'));
    assert.throws(() => guardPrompt([{ role: 'system', content: 'x' }]), /no user or assistant message/);
  });

  it('parse verdicts as guard models write them', () => {
    assert.deepEqual(parseGuardVerdict('safe'), { verdict: 'safe', codes: [] });
    assert.deepEqual(parseGuardVerdict('\n\nSafe.\n'), { verdict: 'safe', codes: [] });
    assert.deepEqual(parseGuardVerdict('unsafe\nS1,S10'), { verdict: 'unsafe', codes: ['S1', 'S10'] });
    assert.deepEqual(parseGuardVerdict('unsafe S9, s2 ,S99'), { verdict: 'unsafe', codes: ['S9', 'S2'] });
    assert.deepEqual(parseGuardVerdict('UNSAFE'), { verdict: 'unsafe', codes: [] });
    assert.deepEqual(parseGuardVerdict('I cannot say.'), { verdict: 'unknown', codes: [] });
    assert.deepEqual(parseGuardVerdict(''), { verdict: 'unknown', codes: [] });
  });

  it('turn a verdict into a moderation result', () => {
    const violent = guardModeration({ verdict: 'unsafe', codes: ['S1', 'S11', 'S8'] });
    assert.equal(violent.flagged, true);
    assert.equal(violent.categories.violence && violent.categories['self-harm'], true);
    assert.deepEqual(violent.reasons.map((r) => r.id).sort(), ['guard/S1', 'guard/S11']);
    assert.equal(guardModeration({ verdict: 'unsafe', codes: ['S13'] }).categories.illicit, true);
    assert.equal(guardModeration({ verdict: 'safe', codes: [] }).flagged, false);
    assert.equal(guardModeration({ verdict: 'unknown', codes: [] }).flagged, false);
    assert.equal(llamaGuardCategories.length, 14);
  });
});
