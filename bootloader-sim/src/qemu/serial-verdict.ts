/**
 * Judging a boot from its serial console, the only trustworthy witness:
 * QEMU's own start-up errors exit 1, which is also what isa-debug-exit makes
 * of a healthy payload's code 0, so exit codes alone prove nothing.
 */
import type { SlotName } from '@uniota/boot-control';

/** How a boot ended, as the serial output and the host saw it. */
export type BootOutcome =
  /** Banner, then `UNIOTA-HEALTH ok`. */
  | 'healthy'
  /** Banner, then `UNIOTA-HEALTH fail`: the image runs but fails its health check. */
  | 'unhealthy'
  /** Banner, then `UNIOTA-PANIC`. */
  | 'panic'
  /** Banner and nothing after it until the watchdog fired. */
  | 'hang'
  /** The payload never printed its banner (bad image, bootloader stuck, QEMU failed). */
  | 'no-payload'
  /** The host cut power (killed QEMU) on purpose before the boot finished. */
  | 'power-cut';

/** What the serial output says about one boot. */
export interface SerialVerdict {
  /** Slot the bootloader announced (`UNIOTA-UBOOT booting slot=X`), or null. */
  announcedSlot: SlotName | null;
  /** From the payload banner, or null when no banner appeared. */
  version: string | null;
  behaviour: string | null;
  outcome: BootOutcome;
}

const BANNER = /UNIOTA-PAYLOAD version=(\S+) behaviour=(\S+)/;
const BOOTING = /UNIOTA-UBOOT booting slot=([AB])\b/;

/**
 * Reads the serial output of one boot. `ended` says how the process ended:
 * `watchdog` when the host's timeout killed it, `power-cut` when the host
 * killed it on purpose, `exited` otherwise.
 */
export function judgeSerial(serial: string, ended: 'exited' | 'watchdog' | 'power-cut'): SerialVerdict {
  const booting = BOOTING.exec(serial);
  const announcedSlot = booting ? (booting[1] as SlotName) : null;
  const banner = BANNER.exec(serial);
  if (!banner) {
    return { announcedSlot, version: null, behaviour: null, outcome: ended === 'power-cut' ? 'power-cut' : 'no-payload' };
  }
  // Only lines after the banner count: U-Boot's own output cannot fake a result.
  const after = serial.slice(banner.index + banner[0].length);
  const results = after.split(/\r?\n/).map((l) => l.trim());
  let outcome: BootOutcome;
  if (results.includes('UNIOTA-PANIC')) outcome = 'panic';
  else if (results.includes('UNIOTA-HEALTH fail')) outcome = 'unhealthy';
  else if (results.includes('UNIOTA-HEALTH ok')) outcome = 'healthy';
  else if (ended === 'power-cut') outcome = 'power-cut';
  else outcome = 'hang';
  return { announcedSlot, version: banner[1]!, behaviour: banner[2]!, outcome };
}
