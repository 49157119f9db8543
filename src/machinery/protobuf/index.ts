// Kubernetes' protobuf wire format for built-in types: see codec.ts.
export { ProtobufError } from './wire.js';
export {
  MAGIC, MAX_DEPTH, decodeEnvelope, decodeMessage, encodeEnvelope, encodeMessage, envelope, fieldNumber, hasMessage, messageFor, requireMessage,
  varint, type TypeMeta,
} from './codec.js';
export { formatGoDuration, parseGoDuration } from './goduration.js';
