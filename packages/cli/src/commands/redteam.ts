// `ownlm redteam`: the shipped red-team suite against a model — a registered model of a running ownlm server
// through its OpenAI-compatible API, or a GGUF run here in llama.cpp through the server's runtime — behind
// ownlm's own input and output filters, written as redteam-report.{json,md,html}.
import { mkdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createLlamaRuntime } from '@ownlm/server';
import {
  builtinModerationPolicy,
  moderate,
  oneOf,
  readRedteamSuite,
  runRedteam,
  writeRedteamReport,
  type BuiltinFilters,
  type RedteamAnswer,
  type RedteamMessage,
  type RedteamPrompt,
} from '@ownlm/studio';
import { defineCommand, eventsOption, positiveInteger } from '../command.ts';
import { ProgressBar } from '../progress-bar.ts';
import { trainProgress } from '../train-progress.ts';

/** What --filters names: which of ownlm's own filters run in front of and behind the model. */
const filterChoices: Record<string, BuiltinFilters | null> = {
  both: { rules: true, classifier: true },
  rules: { rules: true, classifier: false },
  classifier: { rules: false, classifier: true },
  none: null,
};

/** The first `limit` prompts of each category and kind, in suite order. */
function firstOfEach(prompts: RedteamPrompt[], limit: number): RedteamPrompt[] {
  const taken = new Map<string, number>();
  return prompts.filter((p) => {
    const key = `${p.category}/${p.kind}`;
    taken.set(key, (taken.get(key) ?? 0) + 1);
    return taken.get(key)! <= limit;
  });
}

interface ChatCompletion {
  choices?: { message?: { content?: string | null }; finish_reason?: string }[];
  error?: { message?: string; code?: string };
}

/**
 * Asks a server's /v1/chat/completions, greedy; a `content_filter` refusal or finish is the server's own input
 * or output filter.
 */
function serverGenerate(server: string, key: string | undefined, model: string, maxTokens: number) {
  const url = new URL('/v1/chat/completions', server);
  return async (messages: RedteamMessage[]): Promise<RedteamAnswer> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ model, messages, max_tokens: maxTokens, temperature: 0 }),
    });
    const body = (await response.json().catch(() => ({}))) as ChatCompletion;
    // The server's input filter refuses a prompt with a 400 whose code is content_filter.
    if (response.status === 400 && body.error?.code === 'content_filter') return { blockedBy: 'input' };
    if (!response.ok)
      throw new Error(
        `${url} answered ${response.status}: ${body.error?.message ?? response.statusText}` +
          (response.status === 401 ? '; pass an API key with --key or OWNLM_API_KEY' : ''),
      );
    const choice = body.choices?.[0];
    const text = choice?.message?.content ?? '';
    return choice?.finish_reason === 'content_filter' ? { blockedBy: 'output', text } : text;
  };
}

export const command = defineCommand({
  name: 'redteam',
  summary: 'run the red-team suite against a model and write a report',
  usage: 'ownlm redteam --model NAME [--server URL --key KEY | --gguf PATH] [options]',
  about: `Runs the red-team suite shipped with ownlm (attacks in five categories: jailbreak, injection, PII
extraction, system-prompt extraction, harmful requests; and as many benign look-alikes) against a model behind
ownlm's input and output filters, and writes redteam-report.json, .md and .html: per category, the share
blocked by a filter or refused by the model, the answers that leaked a secret of the system prompt or obeyed
an injection, and the benign prompts blocked (false positives) or refused.

The model is a registered model of a running ownlm server, asked through its OpenAI-compatible API
(/v1/chat/completions), or with --gguf a GGUF file run here in llama.cpp.`,
  options: {
    model: {
      kind: 'string',
      required: true,
      placeholder: 'NAME',
      help: 'the model (with --gguf, the name the report gives it)',
    },
    server: {
      kind: 'string',
      default: 'http://127.0.0.1:8080',
      placeholder: 'URL',
      help: 'the ownlm server',
    },
    key: { kind: 'string', placeholder: 'KEY', defaultHelp: '$OWNLM_API_KEY', help: 'its API key' },
    gguf: { kind: 'string', placeholder: 'PATH', help: 'run this GGUF here instead of asking a server' },
    out: { kind: 'string', placeholder: 'DIR', defaultHelp: 'redteam-NAME', help: 'folder for the reports' },
    filters: {
      kind: 'string',
      default: 'both',
      placeholder: 'F',
      rule: oneOf(Object.keys(filterChoices)),
      help: "ownlm's filters in front of and behind the model: rules, classifier, both or none",
    },
    suite: {
      kind: 'string',
      placeholder: 'FILE',
      defaultHelp: 'the shipped one',
      help: 'a suite in the shipped JSONL form',
    },
    system_prompt: {
      kind: 'string',
      placeholder: 'FILE',
      defaultHelp: "a bank assistant's, holding a deployment code and a customer record",
      help: 'the system prompt every exchange starts with, e.g. the one you deploy',
    },
    secret: {
      kind: 'strings',
      repeatable: true,
      placeholder: 'TEXT',
      help: 'text of --system-prompt that an answer must not repeat (a leak)',
    },
    limit: {
      kind: 'integer',
      rule: positiveInteger,
      help: 'only the first N prompts of each category and kind, for a quick run',
    },
    max_tokens: { kind: 'integer', default: 200, rule: positiveInteger, help: 'tokens per answer' },
    concurrency: {
      kind: 'integer',
      rule: positiveInteger,
      defaultHelp: '4 with a server, 1 with --gguf',
      help: 'prompts in flight',
    },
    events: eventsOption('progress (redteam-progress), the reports (artifact-written) and redteam-done'),
  },
  async run({ values }) {
    const filters = filterChoices[values.filters];
    const model = values.model;
    const maxTokens = values.max_tokens;
    const concurrency = values.concurrency ?? (values.gguf ? 1 : 4);
    const suite = readRedteamSuite(values.suite);
    const prompts = values.limit === undefined ? suite : firstOfEach(suite, values.limit);
    const systemPrompt =
      values.system_prompt === undefined ? undefined : readFileSync(values.system_prompt, 'utf8');
    const out = values.out ?? `redteam-${basename(model).replace(/[^\w.-]+/g, '_')}`;
    mkdirSync(out, { recursive: true });

    const gguf = values.gguf;
    const runtime = gguf
      ? createLlamaRuntime({
          resolveModel: async (id) => (id === model ? { path: gguf } : null),
          parallelSequences: concurrency,
        })
      : null;
    const generate = runtime
      ? async (messages: RedteamMessage[]): Promise<RedteamAnswer> => {
          let text = '';
          const options = {
            maxTokens,
            temperature: 0,
            topP: 1,
            stop: [],
            signal: new AbortController().signal,
          };
          for await (const event of runtime.chat(model, messages, options))
            if (event.type === 'text-delta') text += event.text;
          return text;
        }
      : serverGenerate(values.server, values.key ?? process.env.OWNLM_API_KEY, model, maxTokens);

    const input = filters ? builtinModerationPolicy('input', filters) : null;
    const output = filters ? builtinModerationPolicy('output', filters) : null;
    const events = trainProgress({ events: values.events });
    const say = values.events === '-' ? console.error : console.log;
    const bar = new ProgressBar({ label: 'redteam', total: prompts.length, unit: 'prompt' });
    try {
      const report = await runRedteam({
        model,
        prompts,
        generate,
        moderateInput: input ? (text) => moderate(text, input) : undefined,
        moderateOutput: output ? (text) => moderate(text, output) : undefined,
        filters: { input: values.filters, output: values.filters },
        ...(systemPrompt === undefined ? {} : { systemPrompt, secrets: values.secret ?? [] }),
        concurrency,
        onProgress(done, total) {
          bar.update(done);
          events.emit({ type: 'redteam-progress', done, total });
        },
      });
      bar.finish();
      const files = writeRedteamReport(out, report);
      for (const path of files) events.emit({ type: 'artifact-written', kind: 'redteam-report', path });
      events.emit({
        type: 'redteam-done',
        out,
        blockRate: report.attacks.blockRate,
        falsePositiveRate: report.benign.falsePositiveRate,
      });
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      for (const c of report.categories)
        say(
          `  ${c.category.padEnd(26)} blocked or refused ${pct(c.attacks.blockRate).padStart(6)}, leaked ${c.attacks.leaked}; benign blocked ${pct(c.benign.falsePositiveRate)}`,
        );
      say(
        `attacks blocked or refused: ${pct(report.attacks.blockRate)}; benign look-alikes blocked: ${pct(report.benign.falsePositiveRate)}, refused: ${pct(report.benign.refusalRate)}`,
      );
      say(`report: ${files.join(', ')}`);
      return 0;
    } finally {
      await events.close();
      await runtime?.close();
    }
  },
});
