import { describe, expect, it } from 'vitest';
import { simTrust } from '../testing/sim-trust.ts';
import { FleetSim, fleetDeviceSpec, parseFaults } from './fleet-sim.ts';

const trust = simTrust(new Date('2026-11-26T12:00:00Z'));
const root = trust.root;
const factoryBundle = trust.bundle('1.0.0', 1, 16 * 1024);
// Nothing connects until start(): create() only provisions the disks.
const base = { brokerUrl: 'mqtt://127.0.0.1:1', root, factoryBundle };

describe('FleetSim', () => {
  it('numbers its devices 1..count by default, zero-padded', async () => {
    const fleet = await FleetSim.create({ ...base, count: 12 });
    expect(fleet.devices.map((d) => d.deviceId).slice(0, 2)).toEqual(['sim-01', 'sim-02']);
    expect(fleet.devices.at(-1)?.deviceId).toBe('sim-12');
  });

  it('runs the device numbers it is given (one process of a split fleet), padded to the whole fleet', async () => {
    const fleet = await FleetSim.create({ ...base, count: 3, numbers: [2, 4, 6], idWidth: 4, idPrefix: 'dev' });
    expect(fleet.devices.map((d) => d.deviceId)).toEqual(['dev-0002', 'dev-0004', 'dev-0006']);
    await expect(FleetSim.create({ ...base, count: 2, numbers: [1] })).rejects.toThrow(RangeError);
  });

  it('gives every device the fleet spec and one shared hasher', async () => {
    const fleet = await FleetSim.create({ ...base, count: 2 });
    expect(fleet.devices[0]?.device.spec).toEqual(fleetDeviceSpec(root));
    expect(fleet.devices[0]?.device.hasher).toBe(fleet.hasher);
    expect(fleet.devices[1]?.device.hasher).toBe(fleet.hasher);
  });

  it('parses a fault mix', () => {
    expect(parseFaults('powercut=0.05,drop=0.02,every=500')).toEqual({ powerCut: 0.05, networkDrop: 0.02, everyMs: 500 });
    expect(() => parseFaults('meteor=1')).toThrow(/unknown fault/);
  });
});
