import { ServerError, ServerErrorCode } from './errors.ts';

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
  ) {}

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
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    } catch (err) {
      throw new ServerError(ServerErrorCode.Gateway, `cannot reach the update server at ${this.base}`, { cause: err, transient: true });
    }
    const text = await res.text();
    const json = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      const code = (Object.values(ServerErrorCode) as string[]).includes(e?.code ?? '') ? (e!.code as ServerErrorCode) : ServerErrorCode.Internal;
      throw new ServerError(code, e?.message ?? `HTTP ${res.status}`);
    }
    return json as T;
  }
}
