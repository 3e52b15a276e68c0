import { describe, expect, it } from 'vitest';
import { judgeSerial } from './serial-verdict.ts';

const uboot = 'U-Boot 2023.01\r\nUNIOTA-UBOOT booting slot=B bootcount=1 upgrade_available=1\r\n   Loading Standalone Program\r\n';

describe('judgeSerial', () => {
  it.each([
    ['UNIOTA-HEALTH ok', 'exited', 'healthy'],
    ['UNIOTA-HEALTH fail', 'exited', 'unhealthy'],
    ['UNIOTA-PANIC', 'exited', 'panic'],
    ['', 'watchdog', 'hang'],
    ['', 'power-cut', 'power-cut'],
  ] as const)('after the banner, %j ending %s is %s', (line, ended, outcome) => {
    const serial = `${uboot}UNIOTA-PAYLOAD version=2.0.1 behaviour=x\r\n${line}\r\n`;
    expect(judgeSerial(serial, ended)).toEqual({ announcedSlot: 'B', version: '2.0.1', behaviour: 'x', outcome });
  });

  it('ignores a result line printed before the banner', () => {
    const serial = 'UNIOTA-HEALTH ok\r\nUNIOTA-PAYLOAD version=1 behaviour=hang\r\n';
    expect(judgeSerial(serial, 'watchdog').outcome).toBe('hang');
  });

  it('reports no payload when the banner never appears, whatever else was printed', () => {
    expect(judgeSerial(`${uboot}UNIOTA-UBOOT boot failed slot=B\r\n`, 'exited')).toEqual({
      announcedSlot: 'B',
      version: null,
      behaviour: null,
      outcome: 'no-payload',
    });
    expect(judgeSerial('', 'power-cut').outcome).toBe('power-cut');
  });
});
