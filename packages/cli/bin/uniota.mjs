#!/usr/bin/env node
// The `uniota` command. Sources are TypeScript run through tsx's loader, so
// there is no build step between editing and running.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
