// Workers start as plain Node: register tsx here (resolved next to this file,
// so it works from any working directory), then load the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
