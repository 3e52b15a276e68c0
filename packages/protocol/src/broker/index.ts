export { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.ts';
