import type { Target } from './spec.ts';

/** The device fields target selection reads. */
export interface TargetableDevice {
  id: string;
  hardware: string;
  tags: readonly string[];
  currentVersion: string | null;
}

/**
 * Whether a device is in the campaign's target set. Explicit ids are exact
 * and exclusive (filters are ignored then), because implicit tag targeting
 * is how operators push updates to devices they did not mean to.
 * Devices the image is not built for, or that already run it, never match.
 */
export function matchesTarget(
  d: TargetableDevice,
  target: Target,
  image: { version: string; compatible: readonly string[] },
): boolean {
  if (!image.compatible.includes(d.hardware)) return false;
  if (d.currentVersion === image.version) return false;
  if (target.deviceIds !== undefined) return target.deviceIds.includes(d.id);
  if (target.hardware !== undefined && !target.hardware.includes(d.hardware)) return false;
  if (target.tags !== undefined && !target.tags.some((t) => d.tags.includes(t))) return false;
  if (target.currentVersions !== undefined && !target.currentVersions.includes(d.currentVersion ?? '')) return false;
  return true;
}
