/**
 * A simulated device on the network: the in-process bootloader and disk of a
 * SimDevice, with the real agent service speaking MQTT. A reboot drops the
 * connection without a DISCONNECT (as a real reboot does, so the broker
 * publishes the offline will), boots through the bootloader again and
 * reconnects. The fleet simulator runs thousands of these.
 */
import type { ProtocolLogger } from '@uniota/protocol';
import { UniotaError } from '@uniota/errors';
import { AgentService } from '../mqtt/agent-service.ts';
import type { AgentServiceOptions } from '../mqtt/agent-service.ts';
import { SlotInventory, WriteTracker } from '../mqtt/slot-inventory.ts';
import type { SimDevice } from './sim-device.ts';

export interface NetworkedSimDeviceOptions {
  deviceId: string;
  brokerUrl: string;
  protocolVersion?: 4 | 5;
  clock?: () => Date;
  logger?: ProtocolLogger;
  transfer?: AgentServiceOptions['transfer'];
  /** MQTT connection options (TLS client certificate, credentials) for brokers run with production rules. */
  link?: AgentServiceOptions['link'];
  /** Resets in a row (panic/hang) before the device is declared stuck in a boot loop. */
  maxBoots?: number;
  /** Called after each boot with what runs (or why nothing does). */
  onBoot?: (e: { deviceId: string; slot: string | null; version: string | null; state: 'running' | 'reset' | 'bricked' }) => void;
}

export class NetworkedSimDevice {
  #service: AgentService | null = null;
  #booting: Promise<void> | null = null;
  #off = false;
  /** Boots since the last power-on, including resets. */
  boots = 0;
  /**
   * Every write to the disk (bootloader and agent alike) goes through this,
   * so the hello's slot inventory survives reboots: after an update only the
   * slot just written is verified again, not both, at every hello.
   */
  readonly #disk: WriteTracker;
  readonly #inventory: SlotInventory;

  constructor(
    readonly device: SimDevice,
    private readonly o: NetworkedSimDeviceOptions,
  ) {
    const { slotA, slotB } = device.layout;
    const disk = new WriteTracker(device.storage, { A: slotA, B: slotB });
    this.#disk = disk;
    this.#inventory = new SlotInventory((slot) => disk.generation(slot));
  }

  /** Slot verifications the hellos of this device ran (the rest were answered from the inventory). */
  get slotVerifications(): number {
    return this.#inventory.verifications;
  }

  get deviceId(): string {
    return this.o.deviceId;
  }

  /** The running agent service (null while booting or off). */
  get service(): AgentService | null {
    return this.#service;
  }

  /** Powers on: boots until an image runs, then connects its agent. */
  powerOn(): Promise<void> {
    this.#off = false;
    this.#booting ??= this.#boot().finally(() => {
      this.#booting = null;
    });
    return this.#booting;
  }

  /** Cuts power: the connection drops without a DISCONNECT. */
  async powerOff(): Promise<void> {
    this.#off = true;
    const s = this.#service;
    this.#service = null;
    await s?.stop(true);
  }

  async #boot(): Promise<void> {
    const clock = this.o.clock ?? (() => new Date());
    const max = this.o.maxBoots ?? 10;
    for (let i = 0; i < max && !this.#off; i++) {
      this.boots += 1;
      const generations = { A: this.#disk.generation('A'), B: this.#disk.generation('B') };
      const booted = await this.device.bootOnce(this.#disk, clock);
      if (booted.kind === 'bricked') {
        this.o.onBoot?.({ deviceId: this.o.deviceId, slot: null, version: null, state: 'bricked' });
        return;
      }
      if (booted.kind === 'reset') {
        this.o.onBoot?.({ deviceId: this.o.deviceId, slot: null, version: null, state: 'reset' });
        continue;
      }
      this.o.onBoot?.({ deviceId: this.o.deviceId, slot: booted.boot.slot, version: booted.boot.manifest.version, state: 'running' });
      // The bootloader verified the slot it booted (signatures, every chunk,
      // against the journal's trusted root): the hello's inventory takes that
      // answer instead of verifying the same unchanged bytes again.
      this.#inventory.learn(booted.boot.slot, generations[booted.boot.slot], { version: booted.boot.manifest.version.slice(0, 64), bootable: true });
      this.#service = await this.#connect(booted.deps);
      return;
    }
  }

  /**
   * Starts the agent service, retrying while the broker does not answer: a
   * real device keeps trying after a reboot, and a failed first connect (a
   * CONNACK timeout on a loaded broker) used to reject inside the reboot's
   * setImmediate and take the whole fleet process down.
   */
  async #connect(deps: AgentServiceOptions['deps']): Promise<AgentService | null> {
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        return await this.#startService(deps);
      } catch (err) {
        if (!(err instanceof UniotaError) || !err.transient || this.#off) throw err;
        await new Promise((r) => setTimeout(r, delay));
        if (this.#off) return null;
      }
    }
  }

  #startService(deps: AgentServiceOptions['deps']): Promise<AgentService> {
    return AgentService.start({
      deviceId: this.o.deviceId,
      brokerUrl: this.o.brokerUrl,
      ...(this.o.protocolVersion === undefined ? {} : { protocolVersion: this.o.protocolVersion }),
      deps,
      slotInventory: this.#inventory,
      reboot: async () => {
        await this.powerOff();
        // Boot again outside the agent's own command queue.
        setImmediate(() => void this.powerOn());
      },
      ...(this.o.logger === undefined ? {} : { logger: this.o.logger }),
      ...(this.o.transfer === undefined ? {} : { transfer: this.o.transfer }),
      ...(this.o.link === undefined ? {} : { link: this.o.link }),
    });
  }
}
