/**
 * Simulated unikernel images.
 *
 * The in-process tier cannot execute a unikernel, so a simulated image says
 * in its (signed) payload what it does when booted. Because the behaviour is
 * inside the signed bytes, a test cannot change what an image does without
 * also breaking its signature — exactly like a real image.
 */
import { BootloaderSimError } from './errors.ts';

/** What a simulated image does when booted. */
export const SIM_BEHAVIOURS = ['ok', 'panic', 'hang', 'unhealthy'] as const;
export type SimBehaviour = (typeof SIM_BEHAVIOURS)[number];

const MAGIC = 'UNIOTA-SIM1\n';

export interface SimImageInfo {
  version: string;
  behaviour: SimBehaviour;
}

/** Builds a simulated image payload of exactly `size` bytes (filler is deterministic). */
export function makeSimImage(info: SimImageInfo, size = 64 * 1024): Uint8Array {
  const head = new TextEncoder().encode(`${MAGIC}${JSON.stringify(info)}\n`);
  if (head.length > size) throw new BootloaderSimError('SIM_IMAGE_INVALID', `image size ${size} is below its ${head.length}-byte header`);
  const out = new Uint8Array(size);
  out.set(head, 0);
  // Filler derived from the version so two versions differ in every chunk.
  let x = 0x9e3779b9;
  for (const ch of info.version) x = Math.imul(x ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  for (let i = head.length; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads what a simulated image does; an unknown payload behaves like a panic (it cannot run). */
export function parseSimImage(payloadStart: Uint8Array): SimImageInfo | null {
  const text = new TextDecoder().decode(payloadStart.subarray(0, 512));
  if (!text.startsWith(MAGIC)) return null;
  const line = text.slice(MAGIC.length).split('\n', 1)[0] ?? '';
  try {
    const v = JSON.parse(line) as Partial<SimImageInfo>;
    if (typeof v.version !== 'string' || !SIM_BEHAVIOURS.includes(v.behaviour as SimBehaviour)) return null;
    return { version: v.version, behaviour: v.behaviour as SimBehaviour };
  } catch {
    return null;
  }
}
