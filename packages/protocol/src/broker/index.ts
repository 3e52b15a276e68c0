export { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.ts';
export { aclAllows, BROKER_ACL, BROKER_LOG_TOPIC, DEVICE_ACL, SERVER_FILTER, type AclRule, type BrokerAclRule } from './acl.ts';
export { mosquittoConfig, MOSQUITTO_PLUGIN_BUILD_PATH, type MosquittoConfigOptions } from './mosquitto-config.ts';
export { startSecureEmbeddedBroker, type SecureBrokerOptions, type SecureEmbeddedBroker, type BrokerDenial } from './secure-broker.ts';
export { PacketSizeGuard } from './packet-size-guard.ts';
export { parseBrokerLogLine, type BrokerLogEntry } from './denial-log.ts';
