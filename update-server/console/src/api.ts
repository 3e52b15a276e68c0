/** An error answer of the API, with its documented code. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** The signed-in user as the server reports it. */
export interface Me {
  username: string;
  role: 'viewer' | 'operator' | 'admin';
  csrf?: string;
}

let csrf = '';
let onUnauthenticated: () => void = () => {};

/** Remembers the session's CSRF token; every state-changing call sends it back. */
export function setSession(me: Me | null): void {
  csrf = me?.csrf ?? '';
}

/** What to do when the session has ended (show the login page). */
export function whenSignedOut(fn: () => void): void {
  onUnauthenticated = fn;
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  return new ApiError(res.status, body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? res.statusText);
}

/** Calls the API with the session cookie (same origin) and, on changes, the CSRF token. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 401 && !path.startsWith('/auth/login')) onUnauthenticated();
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

/** Uploads raw bytes with upload progress (fetch cannot report it; XHR can). */
export function upload<T>(path: string, file: Blob, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1${path}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('x-csrf-token', csrf);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'upload failed: network error'));
    xhr.onload = () => {
      const body = (() => { try { return JSON.parse(xhr.responseText) as unknown; } catch { return {}; } })();
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else {
        const e = (body as { error?: { code?: string; message?: string } }).error;
        reject(new ApiError(xhr.status, e?.code ?? `HTTP_${xhr.status}`, e?.message ?? 'upload failed'));
      }
    };
    xhr.send(file);
  });
}
