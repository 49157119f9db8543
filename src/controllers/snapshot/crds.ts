// The snapshot.storage.k8s.io/v1 CustomResourceDefinitions, as the external-snapshotter project
// publishes them (the fields, short names, printer columns and the rules its schemas enforce),
// installed by the snapshot controller at startup. An admin's own definitions (not labelled as
// ours) are left alone.
import type { CustomResourceDefinition, JSONSchemaProps } from 'kubernetes-types/apiextensions/v1.js';
import { SNAPSHOT_GROUP } from '../../client/snapshots.js';

/** kubernetes-types leaves out the x-kubernetes-* extensions. */
type Schema = Omit<JSONSchemaProps, 'items' | 'properties' | 'oneOf'> & {
  items?: Schema;
  properties?: Record<string, Schema>;
  oneOf?: Schema[];
  'x-kubernetes-validations'?: { rule: string; message: string }[];
  'x-kubernetes-int-or-string'?: boolean;
};

/** resource.Quantity's pattern, as generated CRDs carry it. */
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean' };
const int64: Schema = { type: 'integer', format: 'int64' };
const obj = (properties: Record<string, Schema>, required?: string[], extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...(required ? { required } : {}),
  ...extra,
});
const immutable = (message: string) => [{ rule: 'self == oldSelf', message }];
const deletionPolicy: Schema = { type: 'string', enum: ['Delete', 'Retain'] };
const snapshotError = obj({ message: str, time: { type: 'string', format: 'date-time' } });
const objectReference = obj(
  {
    apiVersion: str,
    fieldPath: str,
    kind: str,
    name: str,
    namespace: str,
    resourceVersion: str,
    uid: str,
  },
  undefined,
  { 'x-kubernetes-map-type': 'atomic' } as Schema,
);

function crd(
  kind: string,
  plural: string,
  scope: 'Namespaced' | 'Cluster',
  shortNames: string[],
  properties: Record<string, Schema>,
  required: string[],
  columns: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[],
  status: boolean,
): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${SNAPSHOT_GROUP}`, labels: { 'app.kubernetes.io/managed-by': 'k8ts' } },
    spec: {
      group: SNAPSHOT_GROUP,
      scope,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: obj({ apiVersion: str, kind: str, metadata: { type: 'object' }, ...properties }, required),
          },
          ...(status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: [
            ...columns,
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}

export const VOLUME_SNAPSHOT_CLASS_CRD = crd(
  'VolumeSnapshotClass',
  'volumesnapshotclasses',
  'Cluster',
  ['vsclass', 'vsclasses'],
  {
    driver: str,
    parameters: { type: 'object', additionalProperties: str },
    deletionPolicy,
  },
  ['deletionPolicy', 'driver'],
  [
    { name: 'Driver', type: 'string', jsonPath: '.driver' },
    {
      name: 'DeletionPolicy',
      type: 'string',
      jsonPath: '.deletionPolicy',
      description:
        'Determines whether a VolumeSnapshotContent created through the VolumeSnapshotClass should be deleted when its bound VolumeSnapshot is deleted.',
    },
  ],
  false,
);

export const VOLUME_SNAPSHOT_CRD = crd(
  'VolumeSnapshot',
  'volumesnapshots',
  'Namespaced',
  ['vs'],
  {
    spec: obj(
      {
        source: obj(
          {
            persistentVolumeClaimName: {
              ...str,
              'x-kubernetes-validations': immutable('persistentVolumeClaimName is immutable'),
            },
            volumeSnapshotContentName: {
              ...str,
              'x-kubernetes-validations': immutable('volumeSnapshotContentName is immutable'),
            },
          },
          undefined,
          {
            oneOf: [{ required: ['persistentVolumeClaimName'] }, { required: ['volumeSnapshotContentName'] }],
            'x-kubernetes-validations': [
              {
                rule: '!has(oldSelf.persistentVolumeClaimName) || has(self.persistentVolumeClaimName)',
                message: 'persistentVolumeClaimName is required once set',
              },
              {
                rule: '!has(oldSelf.volumeSnapshotContentName) || has(self.volumeSnapshotContentName)',
                message: 'volumeSnapshotContentName is required once set',
              },
            ],
          },
        ),
        volumeSnapshotClassName: str,
      },
      ['source'],
    ),
    status: obj({
      boundVolumeSnapshotContentName: str,
      creationTime: { type: 'string', format: 'date-time' },
      error: snapshotError,
      readyToUse: bool,
      restoreSize: { 'x-kubernetes-int-or-string': true, pattern: QUANTITY_PATTERN },
      volumeGroupSnapshotName: str,
    }),
  },
  ['spec'],
  [
    { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse' },
    { name: 'SourcePVC', type: 'string', jsonPath: '.spec.source.persistentVolumeClaimName' },
    { name: 'SourceSnapshotContent', type: 'string', jsonPath: '.spec.source.volumeSnapshotContentName' },
    { name: 'RestoreSize', type: 'string', jsonPath: '.status.restoreSize' },
    { name: 'SnapshotClass', type: 'string', jsonPath: '.spec.volumeSnapshotClassName' },
    { name: 'SnapshotContent', type: 'string', jsonPath: '.status.boundVolumeSnapshotContentName' },
    { name: 'CreationTime', type: 'date', jsonPath: '.status.creationTime' },
  ],
  true,
);

export const VOLUME_SNAPSHOT_CONTENT_CRD = crd(
  'VolumeSnapshotContent',
  'volumesnapshotcontents',
  'Cluster',
  ['vsc', 'vscs'],
  {
    spec: obj(
      {
        deletionPolicy,
        driver: str,
        source: obj(
          {
            volumeHandle: { ...str, 'x-kubernetes-validations': immutable('volumeHandle is immutable') },
            snapshotHandle: { ...str, 'x-kubernetes-validations': immutable('snapshotHandle is immutable') },
          },
          undefined,
          { oneOf: [{ required: ['snapshotHandle'] }, { required: ['volumeHandle'] }] },
        ),
        sourceVolumeMode: { ...str, 'x-kubernetes-validations': immutable('sourceVolumeMode is immutable') },
        volumeSnapshotClassName: str,
        volumeSnapshotRef: objectReference,
      },
      ['deletionPolicy', 'driver', 'source', 'volumeSnapshotRef'],
    ),
    status: obj({
      creationTime: int64,
      error: snapshotError,
      readyToUse: bool,
      restoreSize: { type: 'integer', format: 'int64', minimum: 0 },
      snapshotHandle: str,
      volumeGroupSnapshotHandle: str,
    }),
  },
  ['spec'],
  [
    { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse' },
    { name: 'RestoreSize', type: 'integer', jsonPath: '.status.restoreSize' },
    { name: 'DeletionPolicy', type: 'string', jsonPath: '.spec.deletionPolicy' },
    { name: 'Driver', type: 'string', jsonPath: '.spec.driver' },
    { name: 'VolumeSnapshotClass', type: 'string', jsonPath: '.spec.volumeSnapshotClassName' },
    { name: 'VolumeSnapshot', type: 'string', jsonPath: '.spec.volumeSnapshotRef.name' },
    { name: 'VolumeSnapshotNamespace', type: 'string', jsonPath: '.spec.volumeSnapshotRef.namespace' },
  ],
  true,
);

export const SNAPSHOT_CRDS: CustomResourceDefinition[] = [
  VOLUME_SNAPSHOT_CLASS_CRD,
  VOLUME_SNAPSHOT_CRD,
  VOLUME_SNAPSHOT_CONTENT_CRD,
];
