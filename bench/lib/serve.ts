// The real server for the serve benchmarks: buildApp on a loopback port with a model (`bench`, the default) and
// an API key made over HTTP, and a streamed chat read the way a client reads it.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../packages/server/src/app.ts';

export interface BenchServer {
  url: string;
  secret: string;
  close(): Promise<void>;
}

export interface BenchServerOptions {
  /** More models, by name; the registry registers files in name order, so names after `bench` leave it the default. */
  models?: Record<string, string>;
  /** The API key's scopes; default the OpenAI-compatible API only. */
  scopes?: string[];
}

/** The real server on a loopback port with the model as its default one, and an API key made over HTTP. */
export async function startBenchServer(
  modelPath: string,
  options: BenchServerOptions = {},
): Promise<BenchServer> {
  const home = mkdtempSync(join(tmpdir(), 'ownlm-bench-'));
  mkdirSync(join(home, 'models'));
  copyFileSync(modelPath, join(home, 'models', 'bench.gguf'));
  for (const [name, path] of Object.entries(options.models ?? {}))
    copyFileSync(path, join(home, 'models', `${name}.gguf`));
  const app = await buildApp({ home, logLevel: 'warn' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const registered = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.com', password: 'a long enough password', name: 'Bench' }),
  });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${await registered.text()}`);
  const cookie = registered.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const { csrfToken } = (await registered.json()) as { csrfToken: string };
  const key = await fetch(`${url}/api/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ name: 'bench', scopes: options.scopes }),
  });
  if (key.status !== 201) throw new Error(`API key: ${key.status} ${await key.text()}`);
  const { secret } = (await key.json()) as { secret: string };
  return {
    url,
    secret,
    async close() {
      await app.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A streamed chat over HTTP: yields the content pieces, then the completion tokens from the usage chunk. */
export async function* streamChat(server: BenchServer, body: object): AsyncGenerator<string | number> {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, model: 'bench', stream: true, stream_options: { include_usage: true } }),
  });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    buffer += decoder.decode(read.value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const data = buffer.slice('data: '.length, end);
      buffer = buffer.slice(end + 2);
      if (data === '[DONE]') return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) yield chunk.usage.completion_tokens as number;
      else if (chunk.choices[0]?.delta?.content) yield chunk.choices[0].delta.content as string;
    }
  }
}
