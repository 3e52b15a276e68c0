/**
 * Host file access for the QEMU tier: scratch directories for the assembler,
 * the payload cache, the committed sources. Injected like the process runner
 * so logic never touches node:fs (see node-host-files.ts).
 */
export interface HostFiles {
  /** Creates a fresh private directory whose name starts with `prefix`; returns its path. */
  makeTempDir(prefix: string): Promise<string>;
  /** Reads a whole file; null when it does not exist. */
  read(path: string): Promise<Uint8Array | null>;
  /** Writes a whole file, creating parent directories; atomic (temp file + rename) so readers never see half a file. */
  write(path: string, data: Uint8Array): Promise<void>;
  /** Removes a file or directory tree; no error when it is gone already. */
  remove(path: string): Promise<void>;
}
