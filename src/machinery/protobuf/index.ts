// Kubernetes' protobuf wire format for built-in types: see codec.ts.
export { ProtobufError } from './wire.js';
export {
  MAGIC,
  MAX_DEPTH,
  decodeEnvelope,
  encodeListEnvelope,
  decodeMessage,
  encodeEnvelope,
  encodeMessage,
  envelope,
  fieldNumber,
  hasMessage,
  messageFor,
  requireMessage,
  type TypeMeta,
} from './codec.js';
export { formatGoDuration, parseGoDuration } from './goduration.js';
export { fillNilFields, fillNilFieldsOf, hasNilFields } from './nilfields.js';
