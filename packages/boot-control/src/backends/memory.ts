import type { BootControl, BootState, SlotName } from '../boot-control.ts';

/**
 * Boot control as a plain object, for unit tests of callers. `writes` counts
 * mutations so a test can check that each operation is one atomic write.
 */
export class MemoryBootControl implements BootControl {
  state: BootState;
  writes = 0;

  constructor(initial: Partial<BootState> = {}) {
    this.state = { bootPart: 'A', upgradeAvailable: false, bootCount: 0, bootLimit: 3, ...initial };
  }

  async readState(): Promise<BootState> {
    return { ...this.state };
  }

  async setTrySlot(slot: SlotName): Promise<void> {
    this.commit({ ...this.state, bootPart: slot, upgradeAvailable: true, bootCount: 0 });
  }

  async markGood(): Promise<void> {
    this.commit({ ...this.state, upgradeAvailable: false, bootCount: 0 });
  }

  async markBad(fallback: SlotName): Promise<void> {
    this.commit({ ...this.state, bootPart: fallback, upgradeAvailable: false, bootCount: 0 });
  }

  /** What the bootloader does on a power-on during a trial: count the boot, roll back past the limit. */
  simulateBoot(): SlotName {
    if (this.state.upgradeAvailable) {
      const bootCount = this.state.bootCount + 1;
      if (bootCount > this.state.bootLimit) {
        const back: SlotName = this.state.bootPart === 'A' ? 'B' : 'A';
        this.commit({ ...this.state, bootPart: back, upgradeAvailable: false, bootCount: 0 });
      } else {
        this.commit({ ...this.state, bootCount });
      }
    }
    return this.state.bootPart;
  }

  private commit(next: BootState): void {
    this.state = next;
    this.writes++;
  }
}
