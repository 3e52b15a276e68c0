import type { SlotName } from '@uniota/boot-control';
import type { BootOutcome } from './serial-verdict.ts';

/** When the host kills QEMU on purpose: a power cut at a chosen moment. */
export interface PowerCut {
  /** Cut this many ms after QEMU started. */
  afterMs?: number;
  /** Cut as soon as the serial output contains this text. */
  onSerial?: string;
}

/** Options of one boot. */
export interface BootOptions {
  powerCut?: PowerCut;
}

/** One boot of a QEMU device, judged from its serial output. */
export interface BootResult {
  /** Slot the bootloader (U-Boot script, or the host-side selection for microvm) booted; null if it never got that far. */
  bootedSlot: SlotName | null;
  /** From the payload banner; null when the payload never ran. */
  version: string | null;
  behaviour: string | null;
  /** True only when the serial output shows the banner followed by `UNIOTA-HEALTH ok`. */
  healthy: boolean;
  outcome: BootOutcome;
  serial: string;
  /** QEMU's exit status (null when killed); informative only, never the verdict. */
  exitCode: number | null;
  /** True when the watchdog (timeout) ended the boot. */
  watchdogFired: boolean;
  durationMs: number;
}
