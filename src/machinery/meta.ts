// Accessors for the metadata every object has (as apimachinery's meta.Accessor). kubernetes-types
// marks metadata and its fields optional because a request body may leave them out; objects read
// from the API always have a name (and a namespace when namespaced), so these return '' for absent.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

interface WithMetadata {
  metadata?: ObjectMeta;
}

export function nameOf(obj: WithMetadata | undefined): string {
  return obj?.metadata?.name ?? '';
}

export function namespaceOf(obj: WithMetadata | undefined): string {
  return obj?.metadata?.namespace ?? '';
}

export function uidOf(obj: WithMetadata | undefined): string {
  return obj?.metadata?.uid ?? '';
}

export function labelsOf(obj: WithMetadata | undefined): Record<string, string> {
  return obj?.metadata?.labels ?? {};
}

export function annotationsOf(obj: WithMetadata | undefined): Record<string, string> {
  return obj?.metadata?.annotations ?? {};
}
