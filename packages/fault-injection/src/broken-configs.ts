/**
 * Deliberately broken device configurations, as data. They exist only to
 * prove the fault tester can fail: run with one of them, a correct tester
 * must report violations (and a tester that passes anyway is broken itself).
 */
import type { BootloaderQuirks } from '@uniota/bootloader-sim';
import type { UnsafeAgentOptions } from '@uniota/device-agent';

/** One broken configuration: what is wrong and which invariant must catch it. */
export interface BrokenConfig {
  description: string;
  /** The scenario kinds (and image behaviour) under which the defect shows. */
  caughtBy: string;
  bootloaderQuirks?: BootloaderQuirks;
  unsafeAgent?: UnsafeAgentOptions;
}

/** Every broken configuration the self-test runs. */
export const BROKEN_CONFIGS = {
  'bootloader-skips-bootcount': {
    description: 'the bootloader boots a slot on trial without storing the incremented bootcount first',
    caughtBy: 'an image that hangs or panics: the device boot-loops instead of rolling back',
    bootloaderQuirks: { skipBootcountStore: true },
  },
  'agent-commits-without-health-check': {
    description: 'the agent commits the trial image without running its health check',
    caughtBy: 'an image that fails its health check gets committed',
    unsafeAgent: { commitWithoutHealthCheck: true },
  },
  'agent-raises-counter-at-offer': {
    description: 'the agent raises the anti-rollback floor when it accepts an offer instead of at commit',
    caughtBy: 'a power-cut sweep (floor above the committed image on disk) or a rolled-back update',
    unsafeAgent: { raiseCounterAtOffer: true },
  },
} as const satisfies Record<string, BrokenConfig>;

export type BrokenConfigName = keyof typeof BROKEN_CONFIGS;

/** True when `name` is a known broken configuration. */
export function isBrokenConfigName(name: string): name is BrokenConfigName {
  return Object.hasOwn(BROKEN_CONFIGS, name);
}
