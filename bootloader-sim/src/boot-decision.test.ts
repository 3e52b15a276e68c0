import { describe, expect, it } from 'vitest';
import { decideBoot, fallbackEnv } from './boot-decision.ts';

const env = (o: Record<string, string>) => new Map(Object.entries(o));

// [env, expected path, slot booted, stored vars (null = no write)]
const ROWS: Array<[string, Map<string, string> | null, string, 'A' | 'B', Record<string, string> | null]> = [
  ['no valid copy boots the factory slot and stores defaults', null, 'no-valid-env', 'A', { boot_part: 'A', upgrade_available: '0', bootcount: '0', bootlimit: '3' }],
  ['committed slot A', env({ boot_part: 'A', upgrade_available: '0', bootcount: '0', bootlimit: '3' }), 'normal', 'A', null],
  ['committed slot B', env({ boot_part: 'B', upgrade_available: '0', bootcount: '0', bootlimit: '3' }), 'normal', 'B', null],
  ['first trial boot counts 1', env({ boot_part: 'B', upgrade_available: '1', bootcount: '0', bootlimit: '3' }), 'trial', 'B', { boot_part: 'B', upgrade_available: '1', bootcount: '1', bootlimit: '3' }],
  ['last allowed trial boot', env({ boot_part: 'B', upgrade_available: '1', bootcount: '2', bootlimit: '3' }), 'trial', 'B', { boot_part: 'B', upgrade_available: '1', bootcount: '3', bootlimit: '3' }],
  ['past bootlimit rolls back', env({ boot_part: 'B', upgrade_available: '1', bootcount: '3', bootlimit: '3' }), 'altboot', 'A', { boot_part: 'A', upgrade_available: '0', bootcount: '0', bootlimit: '3' }],
  ['bootlimit 1 (Mender default) allows one trial', env({ boot_part: 'A', upgrade_available: '1', bootcount: '1', bootlimit: '1' }), 'altboot', 'B', { boot_part: 'B', upgrade_available: '0', bootcount: '0', bootlimit: '1' }],
  ['garbage boot_part reads as the factory slot', env({ boot_part: 'X', upgrade_available: '0' }), 'normal', 'A', null],
  ['garbage bootcount during a trial counts from 0', env({ boot_part: 'B', upgrade_available: '1', bootcount: 'zz', bootlimit: '3' }), 'trial', 'B', { boot_part: 'B', upgrade_available: '1', bootcount: '1', bootlimit: '3' }],
  ['missing bootlimit uses the default 3', env({ boot_part: 'B', upgrade_available: '1', bootcount: '3' }), 'altboot', 'A', { boot_part: 'A', upgrade_available: '0', bootcount: '0' }],
];

describe('boot decision table', () => {
  it.each(ROWS)('%s', (_name, vars, path, slot, stored) => {
    const d = decideBoot(vars);
    expect(d.path).toBe(path);
    expect(d.slot).toBe(slot);
    expect(d.store === null ? null : Object.fromEntries(d.store)).toEqual(stored);
  });

  it('keeps unrelated variables when it stores', () => {
    const d = decideBoot(env({ boot_part: 'B', upgrade_available: '1', bootcount: '0', bootlimit: '3', serial: '42' }));
    expect(d.store?.get('serial')).toBe('42');
  });

  it('fallback ends the trial on the other slot', () => {
    expect(Object.fromEntries(fallbackEnv(env({ boot_part: 'B', upgrade_available: '1', bootcount: '2' }), 'A'))).toEqual({ boot_part: 'A', upgrade_available: '0', bootcount: '0' });
  });
});
