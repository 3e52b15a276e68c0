import { open, type FileHandle } from 'node:fs/promises';
import type { BlockDevice } from './block-device.ts';
import { BlockDeviceError } from './errors.ts';
import { checkRange } from './range.ts';

/** Options of FileBlockDevice.open. */
export interface FileBlockDeviceOptions {
  /** Create (or truncate) the file as a sparse file of `size` bytes. */
  create?: boolean;
  /**
   * Device size in bytes. Required with `create`; without it, overrides the
   * size fs.stat reports (0 for block and character devices).
   */
  size?: number;
}

/**
 * A disk image file or a raw device node as a BlockDevice. The only file of
 * this package that touches fs, so everything else stays testable in memory.
 */
export class FileBlockDevice implements BlockDevice {
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly path: string,
  ) {}

  /** Opens `path` read-write; with `create` makes a sparse file of `size` bytes first. */
  static async open(path: string, opts: FileBlockDeviceOptions = {}): Promise<FileBlockDevice> {
    if (opts.create && opts.size === undefined) {
      throw new BlockDeviceError('INVALID_ARGUMENT', `creating ${path} needs a size`);
    }
    let handle: FileHandle;
    try {
      handle = await open(path, opts.create ? 'w+' : 'r+');
    } catch (err) {
      throw ioError(`open ${path}`, err);
    }
    try {
      if (opts.create) await handle.truncate(opts.size);
      const size = opts.size ?? (await handle.stat()).size;
      return new FileBlockDevice(handle, size, path);
    } catch (err) {
      await handle.close();
      throw ioError(`size ${path}`, err);
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange('read', this.size, offset, length);
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }

  async readInto(offset: number, target: Uint8Array): Promise<void> {
    const length = target.length;
    checkRange('read', this.size, offset, length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.handle.read(target, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (err) {
      throw ioError(`read ${this.path} at ${offset}`, err);
    }
    // A file shorter than its declared size reads as zeros, like a sparse hole.
    target.fill(0, done);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange('write', this.size, offset, data.length);
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
        if (bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
        done += bytesWritten;
      }
    } catch (err) {
      throw ioError(`write ${data.length} bytes to ${this.path} at ${offset}`, err);
    }
  }

  async flush(): Promise<void> {
    try {
      await this.handle.datasync();
    } catch (err) {
      throw ioError(`flush ${this.path}`, err);
    }
  }

  /** Closes the file; the device must not be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/** Maps a Node fs error to DISK_FULL (ENOSPC, EDQUOT) or IO_ERROR. */
function ioError(what: string, err: unknown): BlockDeviceError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BlockDeviceError('DISK_FULL', `${what}: no space left on the device holding the file`, {
      cause: err,
    });
  }
  // EINTR/EAGAIN/EBUSY may pass; anything else (EIO, EACCES, ENOENT) will not by retrying.
  const transient = code === 'EINTR' || code === 'EAGAIN' || code === 'EBUSY';
  return new BlockDeviceError('IO_ERROR', `${what}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
    transient,
  });
}
