import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { HostFiles } from './host-files.ts';

/** HostFiles over node:fs; the only file of the QEMU tier that touches the file system by path. */
export class NodeHostFiles implements HostFiles {
  /** Creates a fresh directory under os.tmpdir(). */
  makeTempDir(prefix: string): Promise<string> {
    return mkdtemp(join(tmpdir(), prefix));
  }

  /** Reads a whole file; null when it does not exist. */
  async read(path: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(path));
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Writes via a unique temp name and rename, so parallel writers of one cache entry never tear it. */
  async write(path: string, data: Uint8Array): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, path);
  }

  /** Removes recursively; missing paths are fine. */
  remove(path: string): Promise<void> {
    return rm(path, { recursive: true, force: true });
  }
}
