/**
 * SHA-256 of payload chunks, on this thread or on a small pool of worker
 * threads.
 *
 * Why threads: on a device SHA-256 (~0.9 GB/s a core) is as slow as writing
 * the slot, so hashing on the thread that issues the writes makes an install
 * cost hash time PLUS write time. Hashing on other cores lets the agent verify
 * batch N+1 while batch N is being written (measured in bench/install.bench.ts).
 *
 * Bytes reach the workers through a SharedArrayBuffer: a buffer that already
 * is one (the slot writer's batches) is hashed in place, anything else is
 * copied into one first. The caller must not change the bytes until the
 * digests arrive. Small inputs are hashed inline: below ~64 KiB the thread
 * round trip costs more than the hash, and tests with tiny images stay on one
 * thread.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Computes SHA-256 digests of consecutive chunks. */
export interface ChunkHasher {
  /**
   * Lowercase hex SHA-256 of each consecutive `chunkSize` slice of `bytes`
   * (the last slice may be shorter), in order.
   */
  hashChunks(bytes: Uint8Array, chunkSize: number): Promise<string[]>;
  /**
   * True when bytes in a SharedArrayBuffer are hashed in place and any other
   * bytes are first copied into one (the worker-thread hashers): a caller
   * that chooses where to read bytes to then reads them into shared memory.
   */
  readonly prefersSharedMemory?: boolean;
}

/** Hashes every slice of `bytes` on the calling thread. */
function hashInline(bytes: Uint8Array, chunkSize: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.byteLength; at += chunkSize) {
    out.push(createHash('sha256').update(bytes.subarray(at, Math.min(bytes.byteLength, at + chunkSize))).digest('hex'));
  }
  return out;
}

/** Hashes on the calling thread: deterministic, no threads (tests, tiny images). */
export const inlineChunkHasher: ChunkHasher = {
  hashChunks: async (bytes, chunkSize) => hashInline(bytes, checkedChunkSize(chunkSize)),
};

function checkedChunkSize(chunkSize: number): number {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunk size ${chunkSize} is not a positive integer`);
  return chunkSize;
}

// Plain CommonJS run with `eval`, so a worker starts without a TypeScript
// loader (tsx, vitest) and in well under a millisecond of setup.
// A pool's niceness is set by each worker on itself as it starts: on Linux a
// thread has its own nice value, and /proc/thread-self names the thread. Where
// that fails (another OS, a sandbox) the worker runs at the process's priority.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
if (workerData.nice !== 0) {
  try {
    const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
    require('node:os').setPriority(tid, workerData.nice);
  } catch {}
}
parentPort.on('message', ({ id, buffer, offset, length, chunkSize }) => {
  const bytes = new Uint8Array(buffer, offset, length);
  const digests = [];
  for (let at = 0; at < length; at += chunkSize) {
    digests.push(createHash('sha256').update(bytes.subarray(at, Math.min(length, at + chunkSize))).digest('hex'));
  }
  parentPort.postMessage({ id, digests });
});
`;

interface Job {
  resolve: (digests: string[]) => void;
  reject: (err: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  jobs: Map<number, Job>;
}

/** Worker threads that hash slices of SharedArrayBuffers; spawned on first use. */
class HashPool {
  readonly #size: number;
  readonly #nice: number;
  readonly #workers: PoolWorker[] = [];
  #nextId = 0;

  constructor(size: number, nice: number) {
    this.#size = size;
    this.#nice = nice;
  }

  get size(): number {
    return this.#size;
  }

  /** Hashes `length` bytes of `buffer` at `offset` in `chunkSize` slices on the least busy of the first `limit` workers. */
  hash(buffer: SharedArrayBuffer, offset: number, length: number, chunkSize: number, limit: number): Promise<string[]> {
    const pw = this.#pick(Math.min(limit, this.#size));
    const id = this.#nextId++;
    return new Promise<string[]>((resolve, reject) => {
      pw.jobs.set(id, { resolve, reject });
      // A worker with work in flight keeps the process alive; an idle one must not.
      if (pw.jobs.size === 1) pw.worker.ref();
      pw.worker.postMessage({ id, buffer, offset, length, chunkSize });
    });
  }

  #pick(limit: number): PoolWorker {
    let best: PoolWorker | undefined;
    for (const pw of this.#workers.slice(0, limit)) if (best === undefined || pw.jobs.size < best.jobs.size) best = pw;
    if (best !== undefined && (best.jobs.size === 0 || this.#workers.length >= limit)) return best;
    return this.#spawn();
  }

  #spawn(): PoolWorker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { nice: this.#nice } });
    const pw: PoolWorker = { worker, jobs: new Map() };
    worker.unref();
    worker.on('message', ({ id, digests }: { id: number; digests: string[] }) => {
      const job = pw.jobs.get(id);
      pw.jobs.delete(id);
      if (pw.jobs.size === 0) worker.unref();
      job?.resolve(digests);
    });
    const fail = (err: Error) => {
      // A dead worker fails only its own jobs; the next call spawns a fresh one.
      const i = this.#workers.indexOf(pw);
      if (i >= 0) this.#workers.splice(i, 1);
      for (const job of pw.jobs.values()) job.reject(err);
      pw.jobs.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hash worker exited with code ${code}`)));
    this.#workers.push(pw);
    return pw;
  }
}

/** Inputs below this many bytes are hashed inline: the thread round trip would cost more. */
export const THREADED_MIN_BYTES = 64 * 1024;

/** One shared pool per niceness, each at most two workers (one on a single core). */
const pools = new Map<number, HashPool>();

/** Options of threadedChunkHasherOn. */
export interface ThreadedHasherOptions {
  /**
   * Niceness of the worker threads (Linux; 0 = the process's own priority,
   * up to 19 = only what other threads leave idle). An install's hashing runs
   * niced so the thread that writes the slot and the event loop (MQTT acks and
   * keep-alives) never wait behind it; see the slot writer.
   */
  nice?: number;
}

/**
 * Hashes on at most `threads` worker threads of the shared pool for
 * `options.nice`, splitting a large input across them at chunk boundaries;
 * small inputs are hashed inline.
 */
export function threadedChunkHasherOn(threads: number, options: ThreadedHasherOptions = {}): ChunkHasher {
  if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`thread count ${threads} is not a positive integer`);
  const nice = options.nice ?? 0;
  if (!Number.isSafeInteger(nice) || nice < 0 || nice > 19) throw new RangeError(`niceness ${nice} is not an integer from 0 to 19`);
  return { hashChunks: (bytes, chunkSize) => hashThreaded(bytes, chunkSize, threads, nice), prefersSharedMemory: true };
}

/** Hashes on every worker of the shared pool: for hashing alone, e.g. reading back a slot. */
export const threadedChunkHasher: ChunkHasher = {
  hashChunks: (bytes, chunkSize) => hashThreaded(bytes, chunkSize, Infinity, 0),
  prefersSharedMemory: true,
};

/** Hashes on up to `threads` pool workers; shared memory is hashed in place, anything else copied into it first. */
async function hashThreaded(bytes: Uint8Array, chunkSize: number, threads: number, nice: number): Promise<string[]> {
  checkedChunkSize(chunkSize);
  if (bytes.byteLength < THREADED_MIN_BYTES) return hashInline(bytes, chunkSize);
  let pool = pools.get(nice);
  if (pool === undefined) {
    pool = new HashPool(Math.max(1, Math.min(2, availableParallelism())), nice);
    pools.set(nice, pool);
  }
  let buffer: SharedArrayBuffer;
  let offset: number;
  if (bytes.buffer instanceof SharedArrayBuffer) {
    buffer = bytes.buffer;
    offset = bytes.byteOffset;
  } else {
    buffer = new SharedArrayBuffer(bytes.byteLength);
    new Uint8Array(buffer).set(bytes);
    offset = 0;
  }
  const chunks = Math.ceil(bytes.byteLength / chunkSize);
  const parts = Math.min(pool.size, threads, chunks);
  const perPart = Math.ceil(chunks / parts) * chunkSize;
  const jobs: Promise<string[]>[] = [];
  for (let at = 0; at < bytes.byteLength; at += perPart) {
    jobs.push(pool.hash(buffer, offset + at, Math.min(perPart, bytes.byteLength - at), chunkSize, threads));
  }
  return (await Promise.all(jobs)).flat();
}
