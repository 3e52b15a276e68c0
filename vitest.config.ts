import { defineConfig } from 'vitest/config';

// One root config: unit tests sit next to the code (`*.test.ts`), cross-package,
// end-to-end, fault and QEMU tests live in test/. Tests that need a system
// service (mosquitto, QEMU, fw_printenv, chromium) find it because
// scripts/test.sh installs it first; they never skip themselves silently.
export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'device-agent/src/**/*.test.ts',
      'update-server/src/**/*.test.ts',
      'bootloader-sim/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
