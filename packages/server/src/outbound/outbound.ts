// The only way the server fetches a URL (webhook deliveries, the synthesizer's endpoint, upstream providers).
// A request goes out only when every address its host resolves to is public or allowed by the admin
// (addresses.ts), and the socket is opened to the address that was checked: the name is resolved once, so DNS
// cannot answer one address to the check and another to the connection. A redirect is returned as the answer,
// never followed. Time and body size are bounded, and errors name the host, never what it answered.
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { AppError } from '../errors.ts';
import { AllowList, forbiddenName, forbiddenRange, normalHost, type RangeKind } from './addresses.ts';

/** Every address a host name resolves to. */
export type Resolve = (host: string) => Promise<string[]>;

/** Where a socket is opened: always an IP address that has been checked. */
export interface ConnectTarget {
  address: string;
  port: number;
  tls: boolean;
  /** The host name for TLS (SNI and the certificate check); undefined when the URL's host is an address. */
  servername: string | undefined;
}

export type Connect = (target: ConnectTarget) => Socket;

export interface OutboundOptions {
  /** The admin's allow-list (CIDRs, addresses, host names; `readAllowList` in addresses.ts). */
  allow: readonly string[];
  /** Resolves names (default: the system resolver, every address). Tests give a stub. */
  resolve?: Resolve;
  /** Opens the socket (default: TCP, or TLS for https). Tests watch where it goes. */
  connect?: Connect;
}

export interface OutboundRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** The whole exchange: resolving, connecting, the answer and reading its body (default 10 s). */
  timeoutMs?: number;
  /** Connecting alone (default 5 s; never more than timeoutMs). */
  connectTimeoutMs?: number;
  /** The largest body read (default 1 MiB). */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as it arrives (a stream can be read as it comes); fails `outbound_too_large` past maxBytes. */
  body: AsyncIterable<Buffer>;
  /** The whole body as UTF-8 text, within maxBytes. */
  text(): Promise<string>;
  /** Closes the connection without reading the body. */
  discard(): void;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_BYTES = 2 ** 20;

const REMEDY =
  'the server sends requests only to public addresses unless an admin allows this one (--outbound-allow)';

const systemResolve: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

const systemConnect: Connect = ({ address, port, tls, servername }) =>
  tls
    ? tlsConnect({ host: address, port, servername, ALPNProtocols: ['http/1.1'] })
    : netConnect({ host: address, port });

/** `raw` as an absolute http(s) URL without credentials, or an `invalid_request` naming `field`. */
export function outboundUrl(raw: string, field: string | null): URL {
  const name = field ?? 'the URL';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError(
      'invalid_request',
      `${name} '${raw}' is not an absolute URL; write it as https://host/path`,
      field,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError(
      'invalid_request',
      `${name} must use http or https, not ${url.protocol.slice(0, -1)}`,
      field,
    );
  if (url.username !== '' || url.password !== '')
    throw new AppError('invalid_request', `${name} must not carry a user name or password`, field);
  return url;
}

const refused = (what: string, kind: RangeKind, field: string | null) =>
  new AppError('outbound_refused', `${what} a non-public address (${kind}); ${REMEDY}`, field);

/** An error of this module as it is, anything else (a socket's) as `outbound_unreachable` without its detail. */
function outboundFailure(error: unknown, host: string): Error {
  if (error instanceof AppError || (error as Error).name === 'AbortError') return error as Error;
  return new AppError(
    'outbound_unreachable',
    `could not reach ${host}; check the URL and that the host is up`,
  );
}

/** The response's body chunk by chunk, stopping with `outbound_too_large` past `maxBytes`. */
async function* cappedBody(
  response: IncomingMessage,
  maxBytes: number,
  host: string,
): AsyncGenerator<Buffer> {
  const tooLarge = () =>
    new AppError('outbound_too_large', `${host} answered with a body larger than ${maxBytes} bytes`);
  if (Number(response.headers['content-length']) > maxBytes) {
    response.destroy();
    throw tooLarge();
  }
  let bytes = 0;
  try {
    // Leaving this loop early (a throw, or the reader stopping) destroys the response.
    for await (const chunk of response as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw tooLarge();
      yield chunk;
    }
  } catch (error) {
    throw outboundFailure(error, host);
  }
}

export class Outbound {
  private readonly allow: AllowList;
  private readonly resolve: Resolve;
  private readonly connect: Connect;

  constructor(options: OutboundOptions) {
    this.allow = new AllowList(options.allow);
    this.resolve = options.resolve ?? systemResolve;
    this.connect = options.connect ?? systemConnect;
  }

  /**
   * `raw` as a URL (`outboundUrl`), refused with `outbound_refused` naming `field` when its host is non-public
   * whatever DNS says: an address in a forbidden range or a name such as localhost. Other names are checked when
   * a request is made, since what they resolve to can change.
   */
  checkWithoutResolving(raw: string, field: string | null): URL {
    const url = outboundUrl(raw, field);
    const host = normalHost(url.hostname);
    if (this.allow.allowsHost(host)) return url;
    if (isIP(host) !== 0) {
      const kind = forbiddenRange(host);
      if (kind && !this.allow.allowsAddress(host)) throw refused(`${host} is`, kind, field);
    } else {
      const kind = forbiddenName(host);
      if (kind) throw refused(`host '${host}' names`, kind, field);
    }
    return url;
  }

  /**
   * Sends one request and returns the answer once its headers arrive, whatever its status (a redirect too).
   * Throws `outbound_refused` before any connection when the host is not allowed, `outbound_unreachable`,
   * `outbound_timeout`, or the caller's abort reason.
   */
  async request(raw: string, init: OutboundRequest = {}): Promise<OutboundResponse> {
    const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const url = this.checkWithoutResolving(raw, null);
    const host = normalHost(url.hostname);
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(init.signal ? [init.signal] : [])]);
    const stopped = () =>
      (signal.reason as Error).name === 'TimeoutError'
        ? new AppError('outbound_timeout', `${host} did not answer within ${timeoutMs} ms`)
        : (signal.reason as Error);
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(stopped());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const address = await Promise.race([this.address(host), aborted]);
      return await Promise.race([this.exchange(url, host, address, init, signal, stopped), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** The one address to connect to: the first the host resolves to, once every one of them is allowed. */
  private async address(host: string): Promise<string> {
    if (isIP(host) !== 0) return host;
    const addresses = await this.resolve(host).catch(() => []);
    if (addresses.length === 0)
      throw new AppError('outbound_unreachable', `host '${host}' does not resolve; check its name`);
    if (!this.allow.allowsHost(host))
      for (const address of addresses) {
        const kind = forbiddenRange(address);
        if (kind && !this.allow.allowsAddress(address))
          throw refused(`host '${host}' resolves to`, kind, null);
      }
    return addresses[0]!;
  }

  /** The HTTP exchange on a socket opened to `address`, with the URL's host in the Host header and for TLS. */
  private exchange(
    url: URL,
    host: string,
    address: string,
    init: OutboundRequest,
    signal: AbortSignal,
    stopped: () => Error,
  ): Promise<OutboundResponse> {
    const tls = url.protocol === 'https:';
    const port = Number(url.port) || (tls ? 443 : 80);
    const connectTimeoutMs = Math.min(
      init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      init.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    const maxBytes = init.maxBytes ?? DEFAULT_MAX_BYTES;
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    return new Promise((resolve, reject) => {
      // Aborted while resolving: no socket (the abort listener below would never fire).
      if (signal.aborted) return reject(stopped());
      let response: IncomingMessage | null = null;
      const request = httpRequest({
        method: init.method ?? 'GET',
        path: `${url.pathname}${url.search}`,
        headers: {
          ...init.headers,
          host: url.host,
          ...(body ? { 'content-length': String(body.length) } : {}),
        },
        createConnection: () => {
          const socket = this.connect({
            address,
            port,
            tls,
            servername: tls && isIP(host) === 0 ? host : undefined,
          });
          const connectTimer = setTimeout(
            () =>
              request.destroy(
                new AppError(
                  'outbound_timeout',
                  `could not connect to ${host} within ${connectTimeoutMs} ms`,
                ),
              ),
            connectTimeoutMs,
          );
          const onAbort = () => (response ?? request).destroy(stopped());
          signal.addEventListener('abort', onAbort, { once: true });
          socket.once('connect', () => clearTimeout(connectTimer));
          socket.once('close', () => {
            clearTimeout(connectTimer);
            signal.removeEventListener('abort', onAbort);
          });
          return socket;
        },
      });
      // After the answer has come, a failure surfaces through its body instead.
      request.on('error', (error) => reject(outboundFailure(error, host)));
      request.once('response', (answer) => {
        response = answer;
        const chunks = cappedBody(answer, maxBytes, host);
        resolve({
          status: answer.statusCode!,
          headers: answer.headers,
          body: chunks,
          async text() {
            const parts: Buffer[] = [];
            for await (const part of chunks) parts.push(part);
            return Buffer.concat(parts).toString('utf8');
          },
          discard: () => answer.destroy(),
        });
      });
      request.end(body);
    });
  }
}
