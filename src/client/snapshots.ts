// snapshot.storage.k8s.io/v1 (the external-snapshotter project's API): the object types, their
// typed resource specs, and the finalizers and annotations upstream's snapshot controller and
// CSI sidecar put on them. Shared by the snapshot controller (server) and the local-path
// provisioner (node agents), which plays the CSI snapshotter sidecar's part for its volumes.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { ObjectReference } from 'kubernetes-types/core/v1.js';
import { spec } from './client.js';

export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';

export interface VolumeSnapshotError {
  message?: string;
  time?: string;
}

export interface VolumeSnapshotClass {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  driver: string;
  parameters?: Record<string, string>;
  deletionPolicy: 'Delete' | 'Retain';
}

export interface VolumeSnapshot {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: {
    source?: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string };
    volumeSnapshotClassName?: string;
  };
  status?: {
    boundVolumeSnapshotContentName?: string;
    /** RFC 3339. */
    creationTime?: string;
    readyToUse?: boolean;
    /** A quantity. */
    restoreSize?: string;
    error?: VolumeSnapshotError;
  };
}

export interface VolumeSnapshotContent {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: {
    deletionPolicy?: 'Delete' | 'Retain';
    driver?: string;
    source?: { volumeHandle?: string; snapshotHandle?: string };
    sourceVolumeMode?: string;
    volumeSnapshotClassName?: string;
    volumeSnapshotRef?: ObjectReference;
  };
  status?: {
    snapshotHandle?: string;
    /** Nanoseconds since the epoch, as CSI's CreateSnapshot reports it. */
    creationTime?: number;
    readyToUse?: boolean;
    /** Bytes. */
    restoreSize?: number;
    error?: VolumeSnapshotError;
  };
}

export const VOLUME_SNAPSHOT_CLASSES = spec<VolumeSnapshotClass>({
  group: SNAPSHOT_GROUP,
  version: 'v1',
  plural: 'volumesnapshotclasses',
  namespaced: false,
  kind: 'VolumeSnapshotClass',
});
export const VOLUME_SNAPSHOTS = spec<VolumeSnapshot>({
  group: SNAPSHOT_GROUP,
  version: 'v1',
  plural: 'volumesnapshots',
  namespaced: true,
  kind: 'VolumeSnapshot',
});
export const VOLUME_SNAPSHOT_CONTENTS = spec<VolumeSnapshotContent>({
  group: SNAPSHOT_GROUP,
  version: 'v1',
  plural: 'volumesnapshotcontents',
  namespaced: false,
  kind: 'VolumeSnapshotContent',
});

/** On a VolumeSnapshot while a PVC being provisioned restores from it. */
export const SNAPSHOT_AS_SOURCE_FINALIZER = 'snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection';
/** On a VolumeSnapshot bound to a content. */
export const SNAPSHOT_BOUND_FINALIZER = 'snapshot.storage.kubernetes.io/volumesnapshot-bound-protection';
/** On a VolumeSnapshotContent until the driver has deleted (or, Retain, let go of) the snapshot. */
export const CONTENT_FINALIZER = 'snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection';
/** On a PVC while a snapshot of it is being taken. */
export const PVC_AS_SOURCE_FINALIZER = 'snapshot.storage.kubernetes.io/pvc-as-source-protection';
/** Set on a content whose snapshot is being deleted (deletionPolicy Delete). */
export const ANN_SNAPSHOT_BEING_DELETED = 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted';
/** Marks the default class of a driver. */
export const ANN_DEFAULT_SNAPSHOT_CLASS = 'snapshot.storage.kubernetes.io/is-default-class';

/** The content a dynamically provisioned snapshot gets (upstream: "snapcontent-" + the snapshot's UID). */
export function contentNameFor(snapshot: VolumeSnapshot): string {
  return `snapcontent-${snapshot.metadata?.uid ?? ''}`;
}

/** A content's creationTime (ns) as the RFC 3339 time a VolumeSnapshot's status shows. */
export function rfc3339FromNanos(ns: number): string {
  return new Date(Math.floor(ns / 1e6)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Bytes as a binary-SI quantity, as resource.NewQuantity(n, BinarySI) prints it ("1Gi", "1536Ki", "1000"). */
export function bytesToQuantity(bytes: number): string {
  const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  let n = bytes;
  let i = 0;
  while (i < suffixes.length - 1 && n !== 0 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n}${suffixes[i]}`;
}
