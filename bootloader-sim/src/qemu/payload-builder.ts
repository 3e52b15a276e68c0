import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostFiles } from './host-files.ts';
import { NodeHostFiles } from './node-host-files.ts';
import { NodeProcessRunner } from './node-process-runner.ts';
import type { ProcessRunner } from './process-runner.ts';
import { QemuError } from './errors.ts';

/** Architectures the payload sources exist for. */
export type PayloadArch = 'aarch64' | 'x86';
/** What the payload does after its banner. */
export type PayloadBehaviour = 'healthy' | 'panic' | 'hang' | 'unhealthy';
/** `uboot`: an `mkimage -T standalone` image for bootm (aarch64 only); `elf`: for QEMU -kernel. */
export type PayloadFormat = 'uboot' | 'elf';

/** Inputs of buildPayload; equal specs give byte-identical payloads (modulo mkimage's timestamp). */
export interface PayloadSpec {
  arch: PayloadArch;
  version: string;
  behaviour: PayloadBehaviour;
  /** Default: `uboot` for aarch64, `elf` for x86. */
  format?: PayloadFormat;
}

/** Side effects of buildPayload. */
export interface PayloadBuildDeps {
  runner: ProcessRunner;
  files: HostFiles;
  /** Where built payloads are kept by content key; default os.tmpdir()/uniota-payload-cache. */
  cacheDir: string;
  /** Directory of aarch64.S and x86.S; default bootloader-sim/payloads. */
  sourceDir: string;
}

/** Address the aarch64 payload is linked and loaded at (mkimage -a/-e, clear of QEMU's DTB at 0x40000000). */
export const AARCH64_LOAD_ADDR = 0x40200000;

/** Exit codes the payloads report (semihosting on aarch64; isa-debug-exit on x86 makes QEMU exit with code*2+1). */
export const PAYLOAD_EXIT_CODE = { healthy: 0, unhealthy: 2, panic: 3 } as const;

// The number each behaviour has in the assembly sources' `.if BEHAVIOUR == n` rows.
const BEHAVIOUR_NUMBER: Record<PayloadBehaviour, number> = { healthy: 0, panic: 1, hang: 2, unhealthy: 3 };

// Per-architecture toolchain rows: how to assemble and link each source.
const TOOLCHAIN: Record<PayloadArch, { source: string; as: string[]; ld: string[]; objcopy: string }> = {
  aarch64: {
    source: 'aarch64.S',
    as: ['aarch64-linux-gnu-as'],
    ld: ['aarch64-linux-gnu-ld', `-Ttext=0x${AARCH64_LOAD_ADDR.toString(16)}`, '-z', 'noexecstack', '-e', '_start'],
    objcopy: 'aarch64-linux-gnu-objcopy',
  },
  x86: {
    source: 'x86.S',
    as: ['as', '--32'],
    // The whole image (ELF headers and the PVH note included) sits at 1 MiB, inside microvm's RAM.
    ld: ['ld', '-m', 'elf_i386', '-Ttext-segment=0x100000', '-z', 'noexecstack', '-e', '_start'],
    objcopy: 'objcopy',
  },
};

// Versions land inside an assembler string literal: allow only characters that need no escaping.
const VERSION_PATTERN = /^[A-Za-z0-9._+-]{1,32}$/;
// Bump when the build steps change, so stale cache entries are not reused.
const BUILD_RECIPE = 2;

let defaultDeps: PayloadBuildDeps | undefined;
function getDefaultDeps(): PayloadBuildDeps {
  defaultDeps ??= {
    runner: new NodeProcessRunner(),
    files: new NodeHostFiles(),
    cacheDir: join(tmpdir(), 'uniota-payload-cache'),
    sourceDir: fileURLToPath(new URL('../../payloads/', import.meta.url)),
  };
  return defaultDeps;
}

/** The params.inc the assembly sources include: behaviour number and the banner's strings. */
export function payloadParams(spec: PayloadSpec): string {
  return [
    `\t.set BEHAVIOUR, ${BEHAVIOUR_NUMBER[spec.behaviour]}`,
    '\t.macro VERSION',
    `\t.ascii "${spec.version}"`,
    '\t.endm',
    '\t.macro BEHAVIOUR_NAME',
    `\t.ascii "${spec.behaviour}"`,
    '\t.endm',
    '',
  ].join('\n');
}

/** Checks a spec and fills in the default format; throws PAYLOAD_INVALID. */
export function normalizePayloadSpec(spec: PayloadSpec): Required<PayloadSpec> {
  if (!(spec.arch in TOOLCHAIN)) throw new QemuError('PAYLOAD_INVALID', `unknown payload arch ${String(spec.arch)}`);
  if (!(spec.behaviour in BEHAVIOUR_NUMBER)) {
    throw new QemuError('PAYLOAD_INVALID', `unknown payload behaviour ${String(spec.behaviour)}`);
  }
  if (!VERSION_PATTERN.test(spec.version)) {
    throw new QemuError('PAYLOAD_INVALID', `payload version ${JSON.stringify(spec.version)} must match ${VERSION_PATTERN}`);
  }
  const format = spec.format ?? (spec.arch === 'aarch64' ? 'uboot' : 'elf');
  if (format === 'uboot' && spec.arch !== 'aarch64') {
    throw new QemuError('PAYLOAD_INVALID', 'only the aarch64 payload is built for U-Boot');
  }
  return { arch: spec.arch, version: spec.version, behaviour: spec.behaviour, format };
}

/**
 * Builds a test payload from the committed assembly source with Debian's
 * binutils (and mkimage for U-Boot), in a temp dir, through the injected
 * runner. Results are cached in `cacheDir` by a hash of the spec and the
 * source text, so a test run builds each distinct payload once.
 */
export async function buildPayload(spec: PayloadSpec, deps: Partial<PayloadBuildDeps> = {}): Promise<Uint8Array> {
  const d = { ...getDefaultDeps(), ...deps };
  const s = normalizePayloadSpec(spec);
  const tc = TOOLCHAIN[s.arch];
  const source = await d.files.read(join(d.sourceDir, tc.source));
  if (!source) throw new QemuError('PAYLOAD_BUILD_FAILED', `payload source ${tc.source} not found in ${d.sourceDir}`);
  const key = createHash('sha256')
    .update(JSON.stringify({ recipe: BUILD_RECIPE, ...s }))
    .update(source)
    .digest('hex');
  const cachePath = join(d.cacheDir, `${s.arch}-${s.format}-${key.slice(0, 32)}.bin`);
  const cached = await d.files.read(cachePath);
  if (cached) return cached;

  const dir = await d.files.makeTempDir('uniota-payload-');
  try {
    await d.files.write(join(dir, 'payload.S'), source);
    await d.files.write(join(dir, 'params.inc'), new TextEncoder().encode(payloadParams(s)));
    const step = async (argv: string[]): Promise<void> => {
      const [cmd, ...args] = argv as [string, ...string[]];
      let res;
      try {
        res = await d.runner.run(cmd, args, { cwd: dir, timeoutMs: 30_000 });
      } catch (err) {
        throw new QemuError('PAYLOAD_BUILD_FAILED', `cannot run ${cmd}`, { cause: err });
      }
      if (res.exitCode !== 0) {
        throw new QemuError('PAYLOAD_BUILD_FAILED', `${cmd} failed (${res.exitCode ?? res.signal}): ${res.stderr.trim()}`);
      }
    };
    await step([...tc.as, '-o', 'payload.o', 'payload.S']);
    await step([...tc.ld, '-o', 'payload.elf', 'payload.o']);
    let output = 'payload.elf';
    if (s.format === 'uboot') {
      await step([tc.objcopy, '-O', 'binary', 'payload.elf', 'payload.bin']);
      const addr = AARCH64_LOAD_ADDR.toString(16);
      // standalone + bootm (with autostart=yes) is what works on Debian's U-Boot 2023.01; `go` hangs.
      await step([
        'mkimage', '-A', 'arm64', '-O', 'u-boot', '-T', 'standalone', '-C', 'none',
        '-a', addr, '-e', addr, '-n', `uniota ${s.version}`.slice(0, 32), '-d', 'payload.bin', 'payload.img',
      ]);
      output = 'payload.img';
    }
    const bytes = await d.files.read(join(dir, output));
    if (!bytes) throw new QemuError('PAYLOAD_BUILD_FAILED', `${output} was not produced`);
    await d.files.write(cachePath, bytes);
    return bytes;
  } finally {
    await d.files.remove(dir);
  }
}
