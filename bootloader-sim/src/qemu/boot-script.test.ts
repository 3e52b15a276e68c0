import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { BOOT_SCRIPT_PATH, envText, parseBootScript } from './boot-script.ts';

describe('parseBootScript', () => {
  it('joins continuation lines and drops comments', () => {
    const vars = parseBootScript('# c\na=1\nb=\n  x;\n# inside\n  y\n\nc=z=2\n');
    expect([...vars]).toEqual([
      ['a', '1'],
      ['b', 'x; y'],
      ['c', 'z=2'],
    ]);
    expect(envText(vars)).toBe('a=1\nb=x; y\nc=z=2\n');
  });

  it('rejects a continuation before any variable and a line without =', () => {
    expect(() => parseBootScript('  x\n')).toThrow(/continuation/);
    expect(() => parseBootScript('novalue\n')).toThrow(/name=value/);
  });

  it('the committed script boots through uniota_boot without waiting for a key', () => {
    const vars = parseBootScript(readFileSync(BOOT_SCRIPT_PATH, 'utf8'));
    expect(vars.get('bootcmd')).toBe('run uniota_boot');
    expect(vars.get('bootdelay')).toBe('-2');
    // Every variable a `run` names must exist, or U-Boot drops to its prompt and spins.
    for (const value of vars.values()) {
      for (const m of value.matchAll(/\brun (\w+)/g)) expect(vars.has(m[1]!), m[1]).toBe(true);
    }
  });
});
