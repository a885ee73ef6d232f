// server-stall: whether one user's heavy request stalls everyone else's. The real server runs in a child process
// on loopback (buildApp; the tiny chat Llama as its default model, whose 384-entry vocabulary makes llama.cpp's
// tokenizer slowest per byte, so counting a dataset's tokens is the worst case; the `base` engine preset at Q8_0
// as a fine-tune base), and inside it monitorEventLoopDelay (1 ms resolution) measures the event loop's delay
// while each load runs:
//   upload      one 32 MB dataset of different conversations (POST /api/datasets)
//   previews    20 preview pages of it at once (100 conversations each, spread over the split)
//   prompt      a 3.9 MB prompt to /v1/completions and the same text as a chat message, at once
//   preflights  16 fine-tune preflights at once, each with its own LoRA rank, on a 1 MB dataset
// Meanwhile a client asks GET /api/session every 25 ms: its slowest answer is what another user waited. The peer,
// measured in the same run: the same server idle for 5 s. Printed per load: answers, seconds, event-loop delay
// p50/p99/max, the p99's ratio to idle, the slowest session answer, the server's peak RSS. Target: p99 ≤ 50 ms.
// Usage: npm run bench -- server-stall [--upload-mb 32] [--prompt-mb 3.9] [--previews 20] [--preflights 16]
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { presetModel, tinyModel } from '../packages/server/src/testing/tiny-model.ts';
import { startBenchServer } from './lib/serve.ts';

interface Delay {
  p50: number;
  p99: number;
  max: number;
  rssMb: number;
}

const MB = 2 ** 20;

if (process.argv.includes('--serve')) {
  // The server's process: answers 'start' and 'stop' with its own event loop's delay and peak RSS in between.
  const server = await startBenchServer((await tinyModel()).gguf, {
    models: { 'preflight-base': await presetModel('base') },
    scopes: ['inference', 'platform'],
  });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let rss = 0;
  let sampler: NodeJS.Timeout | undefined;
  process.on('message', async (message: 'start' | 'stop' | 'close') => {
    if (message === 'start') {
      delay.reset();
      delay.enable();
      rss = process.memoryUsage().rss;
      sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 100);
    } else if (message === 'stop') {
      delay.disable();
      clearInterval(sampler);
      const ms = (ns: number) => ns / 1e6;
      process.send!({
        p50: ms(delay.percentile(50)),
        p99: ms(delay.percentile(99)),
        max: ms(delay.max),
        rssMb: rss / MB,
      } satisfies Delay);
    } else {
      await server.close();
      process.exit(0);
    }
  });
  process.send!({ url: server.url, secret: server.secret });
} else {
  const { values } = parseArgs({
    options: {
      'upload-mb': { type: 'string', default: '32' },
      'prompt-mb': { type: 'string', default: '3.9' },
      previews: { type: 'string', default: '20' },
      preflights: { type: 'string', default: '16' },
    },
  });
  const child = fork(fileURLToPath(import.meta.url), ['--serve']);
  const replies: ((value: unknown) => void)[] = [];
  child.on('message', (message) => replies.shift()?.(message));
  const reply = <T>() => new Promise<T>((resolve) => replies.push(resolve as (value: unknown) => void));
  const { url, secret } = await reply<{ url: string; secret: string }>();
  const authorization = { authorization: `Bearer ${secret}` };
  const json = { ...authorization, 'content-type': 'application/json' };

  /** Conversations of made-up sentences (no two alike) up to `bytes` of JSONL. */
  function conversations(bytes: number): string {
    const words = [
      'harbour',
      'winter',
      'Greta',
      'lantern',
      'north',
      'river',
      'Hugo',
      'bread',
      'quietly',
      'hills',
    ];
    let seed = 1;
    const word = () => words[(seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % words.length];
    const sentence = (n: number) => Array.from({ length: n }, word).join(' ');
    const lines: string[] = [];
    for (let size = 0, i = 0; size < bytes; i++) {
      const line = JSON.stringify({
        messages: [
          { role: 'user', content: `Question ${i}: ${sentence(12)}?` },
          { role: 'assistant', content: `${sentence(40)}. ${sentence(30)}.` },
        ],
      });
      lines.push(line);
      size += line.length + 1;
    }
    return lines.join('\n');
  }

  async function upload(name: string, body: string) {
    const response = await fetch(`${url}/api/datasets?name=${name}&validation=0.1`, {
      method: 'POST',
      headers: { ...authorization, 'content-type': 'application/x-ndjson' },
      body,
    });
    if (response.status !== 201)
      throw new Error(`upload ${name}: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { dataset: { id: string; trainConversations: number } }).dataset;
  }

  interface Row {
    answers: string;
    seconds: number;
    delay: Delay;
    slowestMs: number;
  }

  /** Runs `load` while the server measures its delay and a client asks for its session every 25 ms. */
  async function measure(load: () => Promise<number[]>): Promise<Row> {
    child.send('start');
    let done = false;
    let slowestMs = 0;
    const probe = (async () => {
      while (!done) {
        const asked = performance.now();
        await (await fetch(`${url}/api/session`)).arrayBuffer();
        slowestMs = Math.max(slowestMs, performance.now() - asked);
        await sleep(25);
      }
    })();
    const started = performance.now();
    const statuses = await load().finally(() => (done = true));
    const seconds = (performance.now() - started) / 1000;
    await probe;
    child.send('stop');
    const delay = await reply<Delay>();
    const counts = new Map<number, number>();
    for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
    const answers = [...counts].map(([status, n]) => `${n}×${status}`).join(' ');
    return { answers, seconds, delay, slowestMs };
  }

  const uploadBody = conversations(Number(values['upload-mb']) * MB);
  const prompt = 'the lantern by the harbour '.repeat(Math.ceil((Number(values['prompt-mb']) * 1e6) / 27));
  const previews = Number(values.previews);
  const preflights = Number(values.preflights);
  const models = (await (await fetch(`${url}/api/models`, { headers: authorization })).json()) as {
    models: { id: string; name: string }[];
  };
  const base = models.models.find((m) => m.name === 'preflight-base')!.id;
  const small = await upload('preflight-data', conversations(MB));
  let uploaded: { id: string; trainConversations: number } | undefined;

  const rows: [string, Row][] = [];
  rows.push([
    'idle (peer)',
    await measure(async () => {
      await sleep(5000);
      return [];
    }),
  ]);
  rows.push([
    `upload ${values['upload-mb']} MB`,
    await measure(async () => {
      uploaded = await upload('large', uploadBody);
      return [201];
    }),
  ]);
  rows.push([
    `${previews} preview pages`,
    await measure(() =>
      Promise.all(
        Array.from({ length: previews }, async (_, i) => {
          const offset = Math.floor((i * uploaded!.trainConversations) / previews);
          const response = await fetch(
            `${url}/api/datasets/${uploaded!.id}/preview?offset=${offset}&limit=100`,
            {
              headers: authorization,
            },
          );
          await response.arrayBuffer();
          return response.status;
        }),
      ),
    ),
  ]);
  rows.push([
    `${values['prompt-mb']} MB /v1 prompt`,
    await measure(() =>
      Promise.all(
        [
          ['completions', { model: 'bench', prompt, max_tokens: 1 }],
          [
            'chat/completions',
            { model: 'bench', messages: [{ role: 'user', content: prompt }], max_tokens: 1 },
          ],
        ].map(async ([path, body]) => {
          const response = await fetch(`${url}/v1/${path}`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify(body),
          });
          await response.arrayBuffer();
          return response.status;
        }),
      ),
    ),
  ]);
  rows.push([
    `${preflights} preflights`,
    await measure(() =>
      Promise.all(
        Array.from({ length: preflights }, async (_, i) => {
          const params = { base, dataset: small.id, rank: i + 1, batchSize: 2, epochs: 1 };
          const response = await fetch(`${url}/api/jobs/preflight`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ type: 'finetune', params }),
          });
          await response.arrayBuffer();
          return response.status;
        }),
      ),
    ),
  ]);
  child.send('close');

  console.log(
    `${availableParallelism()} cores; the server in its own process, its event loop measured inside it`,
  );
  console.log(
    'load                  answers        seconds   loop delay p50 / p99 / max ms   p99 ÷ idle   slowest /api/session ms   peak RSS MB',
  );
  const idle = rows[0]![1].delay.p99;
  for (const [name, row] of rows)
    console.log(
      `${name.padEnd(20)}  ${row.answers.padEnd(13)}  ${row.seconds.toFixed(1).padStart(7)}` +
        `  ${[row.delay.p50, row.delay.p99, row.delay.max]
          .map((ms) => ms.toFixed(1))
          .join(' / ')
          .padStart(30)}` +
        `  ${(row.delay.p99 / idle).toFixed(2).padStart(11)}  ${row.slowestMs.toFixed(0).padStart(24)}` +
        `  ${row.delay.rssMb.toFixed(0).padStart(12)}`,
    );
  const worst = Math.max(...rows.map(([, row]) => row.delay.p99));
  console.log(
    `target: event-loop delay p99 ≤ 50 ms under every load: ${worst <= 50 ? 'met' : 'not met'} (worst ${worst.toFixed(1)} ms)`,
  );
}
