export { ChunkReceiver, type ChunkReceiverOptions, type ChunkReceiverStats } from './chunk-receiver.ts';
export { ChunkServer, type ChunkServerOptions, type ChunkServerStats, type ChunkRequestReject, type FanoutSnapshot } from './chunk-server.ts';
export { realTimers, type TransferTimers } from './timers.ts';
