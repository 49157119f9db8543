/** Patch application: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch. */
export { jsonPatch, type JsonPatchOperation } from './json.js';
export { mergePatch } from './merge.js';
export { strategicMergePatch, type StrategicMergeOptions } from './strategic.js';
export { PatchError, type PatchErrorReason } from './errors.js';
