export { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.ts';
export { aclAllows, DEVICE_ACL, SERVER_FILTER, type AclRule } from './acl.ts';
export { mosquittoConfig, type MosquittoConfigOptions } from './mosquitto-config.ts';
export { startSecureEmbeddedBroker, type SecureBrokerOptions, type SecureEmbeddedBroker, type BrokerDenial } from './secure-broker.ts';
export { PacketSizeGuard } from './packet-size-guard.ts';
