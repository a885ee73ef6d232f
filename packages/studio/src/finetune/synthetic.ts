// Synthetic conversations, scaffolded: each conversation is one persona (the assistant's voice) × one arc (the
// order of turns) × one topic (what the client brings). Without a generator the turns come from templates:
// varied by the seed, yet every persona keeps a recurring phrasing a small model can learn. With a generator
// (a local model or an OpenAI-compatible endpoint) the model writes each turn from the same scaffold. Either
// way the result goes through the corpus pipeline's exact and near dedup and its PII scrubber. The built-in
// personas, arcs, topics and client material are data, in synthetic-data/ beside this module.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@ownlm/engine';
import { defaultCorpusConfig } from '../data/config.ts';
import { NearDuplicateIndex, SignatureStore } from '../data/dedup.ts';
import { DataError } from '../data/errors.ts';
import { MinHasher } from '../data/minhash.ts';
import { emptyPiiCounts, scrubPii, type PiiCounts } from '../data/pii.ts';
import type { Conversation, ConversationMessage } from './conversation.ts';

/** What one turn does in an arc; the templates and the generator's instructions are keyed by it. */
export type TurnKind =
  | 'ask'
  | 'describe-problem'
  | 'give-details'
  | 'confirm'
  | 'follow-up'
  | 'push-back'
  | 'thanks'
  | 'clarifying-question'
  | 'answer'
  | 'diagnosis'
  | 'plan'
  | 'deeper-answer'
  | 'address-objection'
  | 'wrap-up';

const userTurns = new Set<TurnKind>([
  'ask',
  'describe-problem',
  'give-details',
  'confirm',
  'follow-up',
  'push-back',
  'thanks',
]);

/** The shape of a conversation: turn kinds alternating user, assistant, starting with the user. */
export interface Arc {
  name: string;
  turns: TurnKind[];
}

/** An assistant persona: who it is (the system prompt) and the phrases its answers recur to. */
export interface Persona {
  name: string;
  description: string;
  voice: {
    /** Opens an answer, an analysis or a plan. */
    openers: string[];
    /** Introduces a clarifying question. */
    clarify: string;
    /** Introduces the likely cause. */
    diagnose: string;
    /** Introduces numbered steps. */
    plan: string;
    /** Answers a client's objection. */
    objection: string;
    /** Ends every substantive answer; {step} is the first step, {metric} the topic's measure. */
    closer: string;
  };
}

/** What a client brings: the material the templates draw from. */
export interface Topic {
  name: string;
  /** A measure of success, e.g. "monthly churn". */
  metric: string;
  questions: string[];
  problems: string[];
  details: string[];
  causes: string[];
  steps: string[];
  objections: string[];
  followUps: string[];
}

/** One of the JSON files beside this module (synthetic-data/), read once at load. */
function builtin<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./synthetic-data/${name}.json`, import.meta.url), 'utf8')) as T;
}

// The first arc, one exchange, fits a small model's context (~170 tokens with the quickstart tokenizer,
// system message included).
export const builtinArcs = builtin<Arc[]>('arcs');
export const builtinPersonas = builtin<Persona[]>('personas');
export const builtinTopics = builtin<Topic[]>('topics');

/** What the client side draws from: who the client is, by when, how they greet and thank. */
const clients = builtin<{ companies: string[]; timeframes: string[]; greetings: string[]; thanks: string[] }>(
  'clients',
);

/** Generic material for a topic given only by name; a generator makes the specifics. */
function topicFromName(name: string): Topic {
  return {
    name,
    metric: `progress on ${name}`,
    questions: [`How should we approach ${name}?`, `What is the best way to improve ${name} in our company?`],
    problems: [`We keep struggling with ${name}.`, `Nothing we tried for ${name} has worked so far.`],
    details: [
      `Nobody is clearly responsible for ${name}.`,
      `We have never measured ${name}.`,
      `We changed our approach to ${name} three times this year.`,
    ],
    causes: [
      `nobody owning ${name}`,
      `working on ${name} without a measure of progress`,
      `changing direction on ${name} before anything could work`,
    ],
    steps: [
      `name one owner for ${name}`,
      `pick one measure of ${name} and record it every week`,
      `write down the current approach to ${name} and keep it for a quarter`,
      `review ${name} with the team once a month`,
    ],
    objections: [`We do not have time for ${name} right now.`, `We tried something like that before.`],
    followUps: [`Who should own ${name}?`, `How do we measure ${name}?`],
  };
}

/** The randomness and the choices of one conversation, shared by all its turns so they agree. */
interface Scene {
  random: Random;
  persona: Persona;
  topic: Topic;
  company: string;
  timeframe: string;
  detail: string;
  cause: string;
  steps: string[];
}

function pick<T>(random: Random, list: readonly T[]): T {
  return list[random.int(list.length)];
}

/** `k` distinct items in random order (partial Fisher–Yates on a copy). */
function pickDistinct<T>(random: Random, list: readonly T[], k: number): T[] {
  const copy = [...list];
  for (let i = 0; i < Math.min(k, copy.length); i++) {
    const j = i + random.int(copy.length - i);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, k);
}

function closer(scene: Scene): string {
  return scene.persona.voice.closer
    .replace('{step}', `${scene.steps[0]}.`)
    .replace('{metric}', scene.topic.metric);
}

function stepsList(scene: Scene): string {
  return scene.steps.map((step, i) => `${i + 1}. ${step[0].toUpperCase()}${step.slice(1)}.`).join('\n');
}

const templates: Record<TurnKind, (scene: Scene) => string> = {
  ask: (s) =>
    `${pick(s.random, clients.greetings)} We are ${s.company}. ${pick(s.random, s.topic.questions)} We want to get it right ${s.timeframe}.`.trim(),
  'describe-problem': (s) =>
    `${pick(s.random, clients.greetings)} I run ${s.company}. ${pick(s.random, s.topic.problems)} ${pick(s.random, ['What is going on?', 'Where do we even start?', 'What would you do?'])}`.trim(),
  'give-details': (s) =>
    `${s.detail} ${pick(s.random, ['Does that change your answer?', 'Does that help?', 'That is the honest picture.'])}`,
  confirm: (s) =>
    `${pick(s.random, ['Yes, that sounds right.', 'That matches what I see.', 'I think you are right.'])} ${s.detail} What should we do?`,
  'follow-up': (s) =>
    `${pick(s.random, ['Makes sense.', 'Understood.', 'Okay.'])} ${pick(s.random, s.topic.followUps)}`,
  'push-back': (s) =>
    `${pick(s.random, ['I am not sure.', 'Hmm.', 'Honestly?'])} ${pick(s.random, s.topic.objections)}`,
  thanks: (s) => pick(s.random, clients.thanks),
  'clarifying-question': (s) =>
    `${s.persona.voice.clarify} ${pick(s.random, [
      `what have you already tried for ${s.topic.name}?`,
      `how do you measure ${s.topic.metric} today?`,
      `who in the company owns ${s.topic.name} right now?`,
    ])}`,
  answer: (s) =>
    `${pick(s.random, s.persona.voice.openers)} For ${s.company}, the issue behind ${s.topic.name} is usually ${s.cause}. Start by making sure you ${s.steps[1]}, and then ${s.steps[2]}.\n\n${closer(s)}`,
  diagnosis: (s) =>
    `${pick(s.random, s.persona.voice.openers)} ${s.persona.voice.diagnose} ${s.cause}. ${pick(s.random, [
      `That is what I see most often with ${s.topic.name}.`,
      `It rarely starts where it first shows up.`,
      `The symptom is ${s.topic.metric}, but the cause sits earlier.`,
    ])} Does that match what you see?`,
  plan: (s) =>
    `${pick(s.random, s.persona.voice.openers)} ${s.persona.voice.plan}\n${stepsList(s)}\n\n${closer(s)}`,
  'deeper-answer': (s) =>
    `${pick(s.random, s.persona.voice.openers)} Good follow-up. Keep it simple: ${s.steps[2]}, and ${s.steps[1]}. Review ${s.topic.metric} ${s.timeframe} and adjust.\n\n${closer(s)}`,
  'address-objection': (s) =>
    `${s.persona.voice.objection} ${pick(s.random, [
      `Still, ${s.cause} will not fix itself.`,
      `But waiting costs more than acting, because ${s.cause} keeps getting worse.`,
      `The risk is real, yet smaller than doing nothing about ${s.cause}.`,
    ])} Start small: ${s.steps[0]}, and look at ${s.topic.metric} again ${s.timeframe}.\n\n${closer(s)}`,
  'wrap-up': (s) =>
    `${pick(s.random, ['Glad it helps.', 'You are welcome.', 'Good luck with it.'])} ${closer(s)}`,
};

const instructions: Record<TurnKind, string> = {
  ask: 'Ask the consultant a question about {topic} for your company, {company}, in one to three sentences.',
  'describe-problem':
    'Describe a concrete problem your company, {company}, has with {topic}, in two or three sentences.',
  'give-details': "Answer the consultant's question with one concrete detail about your situation.",
  confirm: "Agree with the consultant's diagnosis, add one detail, and ask what to do.",
  'follow-up': "Ask one follow-up question about the consultant's advice.",
  'push-back': 'Push back on the advice with one honest objection.',
  thanks: 'Thank the consultant briefly and say what you will do next.',
  'clarifying-question': 'Before advising, ask the client one clarifying question.',
  answer: "Answer the client's question with concrete advice in your voice.",
  diagnosis: "Name the most likely root cause of the client's problem and ask if it matches what they see.",
  plan: 'Give a plan of three numbered steps in your voice.',
  'deeper-answer': 'Answer the follow-up question concretely in your voice.',
  'address-objection':
    'Take the objection seriously, then explain why the advice still holds and how to start small.',
  'wrap-up': 'Close the conversation briefly in your voice.',
};

/** Writes the next turn from the messages so far (OpenAI chat form); the last message says what to write. */
export type ConversationGenerator = (messages: ConversationMessage[]) => Promise<string>;

export interface SynthesizeOptions {
  count: number;
  seed?: number;
  /** Built-in persona names or full personas; default all built-in ones. */
  personas?: (string | Persona)[];
  /** Built-in arc names or full arcs; default all built-in ones. */
  arcs?: (string | Arc)[];
  /** Built-in topic names, new topic names, or full topics; default all built-in ones. */
  topics?: (string | Topic)[];
  /** Writes every turn with a model instead of the templates. */
  generator?: ConversationGenerator;
  /** Start each conversation with the persona's description as the system message (default true). */
  system?: boolean;
  onProgress?(done: number, total: number): void;
}

export interface SynthesisReport {
  /** Conversations generated, before dedup. */
  generated: number;
  exactDuplicates: number;
  nearDuplicates: number;
  /** PII the scrubber replaced, by type. */
  pii: PiiCounts;
}

export interface SynthesisResult {
  conversations: Conversation[];
  report: SynthesisReport;
}

function resolve<T extends { name: string }>(
  items: (string | T)[] | undefined,
  builtins: T[],
  what: string,
  make?: (name: string) => T,
): T[] {
  if (items === undefined) return builtins;
  if (items.length === 0) throw new DataError('options-invalid', `${what} must not be empty`);
  return items.map((item) => {
    if (typeof item !== 'string') return item;
    const found = builtins.find((b) => b.name === item);
    if (found) return found;
    if (make && item.trim() !== '') return make(item.trim());
    throw new DataError(
      'options-invalid',
      `unknown ${what.replace(/s$/, '')} "${item}"; built-in: ${builtins.map((b) => b.name).join(', ')}`,
    );
  });
}

function checkArc(arc: Arc): void {
  arc.turns.forEach((kind, i) => {
    if (!(kind in templates))
      throw new DataError('options-invalid', `arc "${arc.name}": unknown turn kind "${kind}"`);
    if (userTurns.has(kind) !== (i % 2 === 0)) {
      throw new DataError(
        'options-invalid',
        `arc "${arc.name}": turn ${i + 1} ("${kind}") must be a ${i % 2 === 0 ? 'user' : 'assistant'} turn`,
      );
    }
  });
  if (arc.turns.length < 2)
    throw new DataError('options-invalid', `arc "${arc.name}" needs at least a user and an assistant turn`);
}

/** Messages for the generator: as the assistant, the conversation so far; as the client, the same with roles swapped. */
function generatorPrompt(
  scene: Scene,
  kind: TurnKind,
  messages: ConversationMessage[],
): ConversationMessage[] {
  const instruction = instructions[kind]
    .replace('{topic}', scene.topic.name)
    .replace('{company}', scene.company);
  const turns = messages.filter((m) => m.role !== 'system');
  if (userTurns.has(kind)) {
    const system = `You are a client of a consultant: you work at ${scene.company} and want help with ${scene.topic.name}. Write only your next message, plainly, with no names or contact details. ${instruction}`;
    const swapped = turns.map((m): ConversationMessage => ({
      role: m.role === 'user' ? 'assistant' : 'user',
      content: m.content,
    }));
    return [
      { role: 'system', content: system },
      ...swapped,
      ...(swapped.length === 0 ? [{ role: 'user' as const, content: 'Begin.' }] : []),
    ];
  }
  const system = `${scene.persona.description} Your recurring phrases: "${scene.persona.voice.openers[0]}" and "${scene.persona.voice.closer.replace('{step}', '…').replace('{metric}', scene.topic.metric)}". Write only your next message. ${instruction}`;
  return [{ role: 'system', content: system }, ...turns];
}

async function conversation(
  random: Random,
  persona: Persona,
  arc: Arc,
  topic: Topic,
  options: SynthesizeOptions,
): Promise<Conversation> {
  const scene: Scene = {
    random,
    persona,
    topic,
    company: pick(random, clients.companies),
    timeframe: pick(random, clients.timeframes),
    detail: pick(random, topic.details),
    cause: pick(random, topic.causes),
    steps: pickDistinct(random, topic.steps, 3),
  };
  const messages: ConversationMessage[] =
    options.system === false ? [] : [{ role: 'system', content: persona.description }];
  for (const kind of arc.turns) {
    const role = userTurns.has(kind) ? 'user' : 'assistant';
    const content = options.generator
      ? (await options.generator(generatorPrompt(scene, kind, messages))).trim()
      : templates[kind](scene);
    if (content === '')
      throw new DataError('input-invalid', `the generator returned an empty ${role} turn ("${kind}")`);
    messages.push({ role, content });
  }
  return { messages };
}

/** Exact then near duplicates (the corpus pipeline's SHA-1 and MinHash LSH at its default settings) are dropped. */
function deduplicate(conversations: Conversation[], report: SynthesisReport): Conversation[] {
  const seen = new Set<string>();
  const unique = conversations.filter((c) => {
    const hash = createHash('sha1').update(JSON.stringify(c)).digest('hex');
    if (seen.has(hash)) return false;
    seen.add(hash);
    return true;
  });
  report.exactDuplicates += conversations.length - unique.length;
  const { threshold, permutations, shingleSize, seed } = defaultCorpusConfig.dedup;
  const hasher = new MinHasher({ permutations, shingleSize, seed });
  const dir = mkdtempSync(join(tmpdir(), 'ownlm-synthetic-'));
  const store = new SignatureStore(join(dir, 'signatures'), permutations);
  try {
    const index = new NearDuplicateIndex(store, { threshold, permutations, keep: 'first' });
    const signature = new Uint32Array(permutations);
    for (const c of unique) {
      const text = c.messages.map((m) => m.content).join('\n');
      hasher.signature(text, signature, 0);
      index.add(signature, 0, text.length);
    }
    const { keeper, root } = index.finish();
    const kept = unique.filter((_, i) => keeper[root[i]] === i);
    report.nearDuplicates += unique.length - kept.length;
    return kept;
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Makes `count` conversations, cycling through every persona × arc × topic combination in a seeded order,
 * then dedups and PII-scrubs them. Duplicates are replaced by new draws; if a small scaffold cannot yield
 * `count` distinct conversations in a few rounds the result holds fewer (see `report`).
 */
export async function synthesizeConversations(options: SynthesizeOptions): Promise<SynthesisResult> {
  const { count, seed = 0 } = options;
  if (!Number.isSafeInteger(count) || count < 1)
    throw new DataError('options-invalid', `count must be a positive integer, got ${count}`);
  if (!Number.isSafeInteger(seed))
    throw new DataError('options-invalid', `seed must be an integer, got ${seed}`);
  const personas = resolve(options.personas, builtinPersonas, 'personas');
  const arcs = resolve(options.arcs, builtinArcs, 'arcs');
  const topics = resolve(options.topics, builtinTopics, 'topics', topicFromName);
  arcs.forEach(checkArc);
  const combinations = personas.flatMap((persona) =>
    arcs.flatMap((arc) => topics.map((topic) => ({ persona, arc, topic }))),
  );
  const random = new Random(seed);
  const report: SynthesisReport = {
    generated: 0,
    exactDuplicates: 0,
    nearDuplicates: 0,
    pii: emptyPiiCounts(),
  };
  let kept: Conversation[] = [];
  let order: number[] = [];
  for (let round = 0; round < 4 && kept.length < count; round++) {
    const batch: Conversation[] = [];
    for (let i = 0; i < count - kept.length; i++) {
      // Each pass through the combinations is shuffled, so any `count` covers them evenly.
      if (order.length === 0)
        order = pickDistinct(
          random,
          combinations.map((_, j) => j),
          combinations.length,
        );
      const { persona, arc, topic } = combinations[order.pop()!];
      batch.push(await conversation(random, persona, arc, topic, options));
      report.generated += 1;
      options.onProgress?.(Math.min(kept.length + batch.length, count), count);
    }
    kept = deduplicate([...kept, ...batch], report);
  }
  const conversations = kept.map((c) => ({
    messages: c.messages.map((m) => ({ ...m, content: scrubPii(m.content, report.pii) })),
  }));
  return { conversations, report };
}
