// Server-Sent Events on a hijacked response: named events (`event:` + `data:`, the chat answer streams) and
// data-only lines (the /v1 streams of docs/FORMATS.md#openai-streaming).
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** An open event stream: `send` resolves false once the client is gone (and from then on sends nothing). */
export interface EventStream {
  /** A named event; `id` (when given) is what the client sends back as Last-Event-ID on reconnecting. */
  send(event: string, data: unknown, id?: number | string): Promise<boolean>;
  /** A `data:` line with no event name. */
  sendData(data: unknown): Promise<boolean>;
  readonly open: boolean;
  /** Ends the response, after `finalText` when given (e.g. `data: [DONE]`). */
  end(finalText?: string): void;
}

/** Writes to the raw response, waiting for the socket to drain; false once the client is gone. */
async function write(response: ServerResponse, text: string): Promise<boolean> {
  if (response.destroyed || response.writableEnded) return false;
  if (!response.write(text)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      response.on('drain', done);
      response.on('close', done);
    });
  }
  return !response.destroyed;
}

/** Takes the response over from Fastify and starts a 200 event stream on it. */
export function openEventStream(reply: FastifyReply): EventStream {
  const response = reply.raw;
  reply.hijack();
  // Headers set by the app's hooks (security headers) still apply to the hijacked response.
  for (const [name, value] of Object.entries(reply.getHeaders()))
    if (value !== undefined) response.setHeader(name, value);
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let open = true;
  return {
    get open() {
      return open;
    },
    async send(event, data, id) {
      const idLine = id === undefined ? '' : `id: ${id}\n`;
      if (open) open = await write(response, `${idLine}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      return open;
    },
    async sendData(data) {
      if (open) open = await write(response, `data: ${JSON.stringify(data)}\n\n`);
      return open;
    },
    end(finalText) {
      open = false;
      if (!response.destroyed && !response.writableEnded) response.end(finalText);
    },
  };
}
