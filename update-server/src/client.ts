import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ServerError, ServerErrorCode } from './errors.ts';

/** How ApiClient reaches the server. */
export interface ApiClientOptions {
  /**
   * PEM of the CA(s) that signed the server's HTTPS certificate (`uniota pki
   * init` writes api-ca.pem). When set it REPLACES the system trust store for
   * this client, so only a certificate from the project's own CA is accepted.
   */
  ca?: string;
}

// The only network code of the client: node's http/https (global fetch cannot
// be given a private CA without an extra dependency). TLS 1.2 at least, like the server.
function open(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | Uint8Array | undefined,
  ca: string | undefined,
  signal?: AbortSignal,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const options = {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
      ...(signal !== undefined ? { signal } : {}),
    };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...options, minVersion: 'TLSv1.2', ...(ca !== undefined ? { ca } : {}) })
        : httpRequest(url, options);
    req.on('error', reject);
    req.on('response', resolve);
    req.end(body);
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Small typed client of the REST API for the CLI and tests. Errors come back
 * as ServerError with the server's own code, so the CLI prints the same code
 * the API documents.
 */
export class ApiClient {
  constructor(
    private readonly base: string,
    /** API token (`uniota_…`) sent as `Authorization: Bearer`; the server records its name in the audit log. */
    private readonly token?: string,
    private readonly options: ApiClientOptions = {},
  ) {
    const protocol = URL.canParse(base) ? new URL(base).protocol : '';
    if (protocol !== 'http:' && protocol !== 'https:') throw new ServerError(ServerErrorCode.BadRequest, `server URL must be http:// or https://, got ${base}`);
    if (options.ca !== undefined && protocol !== 'https:') {
      // A CA given for a plain-http URL means the operator expected TLS: never send the token in clear instead.
      throw new ServerError(ServerErrorCode.BadRequest, `a CA file was given but the server URL ${base} is not https://`);
    }
  }

  /** Sends a request and returns the parsed JSON body. */
  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const headers = this.#headers();
    let payload: string | Uint8Array | undefined;
    if (body instanceof Uint8Array) {
      headers['content-type'] = 'application/octet-stream';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = contentType;
      payload = JSON.stringify(body);
    }
    const res = await this.#open(method, path, headers, payload);
    let text: string;
    try {
      text = await readAll(res);
    } catch (err) {
      throw this.#unreachable(err);
    }
    const json = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!ok(res)) throw failure(res, json);
    return json as T;
  }

  /**
   * A streaming GET (the server-sent event routes): yields the body as it
   * arrives, with the same token and CA as every other call, until the
   * server ends it or `signal` aborts (which throws an AbortError).
   */
  async *stream(path: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    const res = await this.#open('GET', path, this.#headers(), undefined, signal);
    if (!ok(res)) {
      const text = await readAll(res);
      throw failure(res, text === '' ? undefined : (JSON.parse(text) as unknown));
    }
    for await (const chunk of res) yield chunk as Buffer;
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined && this.token !== '') headers['authorization'] = `Bearer ${this.token}`;
    return headers;
  }

  async #open(method: string, path: string, headers: Record<string, string>, payload: string | Uint8Array | undefined, signal?: AbortSignal): Promise<IncomingMessage> {
    try {
      return await open(new URL(path, this.base), method, headers, payload, this.options.ca, signal);
    } catch (err) {
      if (signal?.aborted === true) throw err;
      throw this.#unreachable(err);
    }
  }

  #unreachable(err: unknown): ServerError {
    const why = err instanceof Error ? `: ${err.message}` : '';
    return new ServerError(ServerErrorCode.Gateway, `cannot reach the update server at ${this.base}${why}`, { cause: err, transient: true });
  }
}

const ok = (res: IncomingMessage) => (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;

// The server's own error code when it sent one, so the CLI prints what the API documents.
function failure(res: IncomingMessage, json: unknown): ServerError {
  const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
  const code = (Object.values(ServerErrorCode) as string[]).includes(e?.code ?? '') ? (e!.code as ServerErrorCode) : ServerErrorCode.Internal;
  return new ServerError(code, e?.message ?? `HTTP ${res.statusCode ?? 0}`);
}
