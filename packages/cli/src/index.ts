export { buildProgram, main } from './main.ts';
export type { CommandModule } from './main.ts';
