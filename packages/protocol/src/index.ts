// Public surface of @uniota/protocol: what the device agent and the update
// server import. Everything else in src/ is internal.
export { ProtocolError, ProtocolErrorCode } from './errors.ts';
export {
  TOPIC_ROOT,
  MAX_ID_LENGTH,
  isValidId,
  deviceTopic,
  imageChunksTopic,
  allDevicesFilter,
  parseTopic,
  type TopicKind,
  type ParsedTopic,
} from './topics.ts';
export {
  Hello,
  OnlineStatus,
  Offer,
  Cancel,
  CommandBody,
  CommandEnvelope,
  StatusReport,
  RefusalReport,
  REFUSAL_CODES,
  Step,
  ChunkRequest,
  TransferMode,
  STEP_NAMES,
  MAX_CHUNK_SIZE,
  MAX_OFFER_ROOTS,
  MAX_HEADER_B64,
  MAX_ROOT_TEXT,
  MAX_WINDOW,
  validators,
  type StepName,
  type RefusalCode,
} from './schemas.ts';
export { CHUNK_HEADER_SIZE, encodeChunkFrame, decodeChunkFrame, imageTag, type ChunkFrame } from './chunk-frame.ts';
export {
  decodeMessage,
  RejectCode,
  MAX_PAYLOAD,
  type DecodeResult,
  type DecodedMessage,
  type MessageKind,
  type Rejection,
} from './decode.ts';
export { RejectionCounter, type ProtocolLogger } from './rejection-counter.ts';
export {
  signCommand,
  CommandGuard,
  type CommandFields,
  type CommandGuardOptions,
  type CommandGuardState,
  type CommandCheck,
  type CommandRejectReason,
} from './command-envelope.ts';
export { COMMAND_CONTEXT, serverKeysFromRoot, type CommandSigner } from './command-signature.ts';
export * from './transfer/index.ts';
export { startEmbeddedBroker, type EmbeddedBroker } from './broker/index.ts';
export { MqttLink, type MqttLinkOptions, type MessageHandlers, type LinkMessage } from './mqtt-link.ts';
export {
  aclAllows,
  BROKER_ACL,
  BROKER_LOG_TOPIC,
  DEVICE_ACL,
  SERVER_FILTER,
  mosquittoConfig,
  MOSQUITTO_PLUGIN_BUILD_PATH,
  parseBrokerLogLine,
  type BrokerAclRule,
  type BrokerLogEntry,
  startSecureEmbeddedBroker,
  type AclRule,
  type MosquittoConfigOptions,
  type SecureBrokerOptions,
  type SecureEmbeddedBroker,
  type BrokerDenial,
} from './broker/index.ts';
