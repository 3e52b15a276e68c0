import { request as httpRequest } from 'node:http';
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

interface RawResponse {
  status: number;
  text: string;
}

// The only network code of the client: node's http/https (global fetch cannot
// be given a private CA without an extra dependency). TLS 1.2 at least, like the server.
function send(url: URL, method: string, headers: Record<string, string>, body: string | Uint8Array | undefined, ca: string | undefined): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const options = { method, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...options, minVersion: 'TLSv1.2', ...(ca !== undefined ? { ca } : {}) })
        : httpRequest(url, options);
    req.on('error', reject);
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
    });
    req.end(body);
  });
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
    const protocol = new URL(base).protocol;
    if (protocol !== 'http:' && protocol !== 'https:') throw new ServerError(ServerErrorCode.BadRequest, `server URL must be http:// or https://, got ${base}`);
    if (options.ca !== undefined && protocol !== 'https:') {
      // A CA given for a plain-http URL means the operator expected TLS: never send the token in clear instead.
      throw new ServerError(ServerErrorCode.BadRequest, `a CA file was given but the server URL ${base} is not https://`);
    }
  }

  /** Sends a request and returns the parsed JSON body. */
  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined && this.token !== '') headers['authorization'] = `Bearer ${this.token}`;
    let payload: string | Uint8Array | undefined;
    if (body instanceof Uint8Array) {
      headers['content-type'] = 'application/octet-stream';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = contentType;
      payload = JSON.stringify(body);
    }
    let res: RawResponse;
    try {
      res = await send(new URL(path, this.base), method, headers, payload, this.options.ca);
    } catch (err) {
      const why = err instanceof Error ? `: ${err.message}` : '';
      throw new ServerError(ServerErrorCode.Gateway, `cannot reach the update server at ${this.base}${why}`, { cause: err, transient: true });
    }
    const json = res.text === '' ? undefined : (JSON.parse(res.text) as unknown);
    if (res.status < 200 || res.status >= 300) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      const code = (Object.values(ServerErrorCode) as string[]).includes(e?.code ?? '') ? (e!.code as ServerErrorCode) : ServerErrorCode.Internal;
      throw new ServerError(code, e?.message ?? `HTTP ${res.status}`);
    }
    return json as T;
  }
}
