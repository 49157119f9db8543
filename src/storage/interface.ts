// The revisioned key-value interface every backend implements (SQLite now, etcd later).
// One global, monotonically increasing revision numbers every change; it is the
// resourceVersion clients see. The API layer only ever talks to this interface.

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the last change to this key. */
  modRevision: number;
  /** Revision at which this key was created. */
  createRevision: number;
}

export interface StorageEvent {
  type: 'put' | 'delete';
  key: string;
  /** For put: the new value. For delete: the last value before deletion. */
  value: string;
  /** For put: the value it replaced (undefined on create). For delete: same as value. */
  prevValue?: string;
  revision: number;
  createRevision: number;
}

export interface ListOptions {
  /** List as of this revision (0 or undefined: current). */
  revision?: number;
  /** Return keys strictly greater than this one (pagination). */
  after?: string;
  limit?: number;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list is consistent at. */
  revision: number;
  /** More items exist after the last one returned. */
  more: boolean;
}

export type StorageErrorCode = 'KeyExists' | 'NotFound' | 'Conflict' | 'Compacted' | 'Unavailable';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    readonly key: string,
    /** On Conflict: the current state of the key. On Compacted: the oldest revision kept. */
    readonly current?: KeyValue,
    readonly compactedRevision?: number,
  ) {
    super(`${code}: ${key}`);
  }
}

export type Unsubscribe = () => void;

export interface Backend {
  /** Open (and migrate) the store. */
  start(): Promise<void>;
  /** Flush in-flight writes and close. */
  close(): Promise<void>;

  currentRevision(): number;
  /** The newest revision that has been compacted away (history at or below it is gone). */
  compactedRevision(): number;

  create(key: string, value: string): Promise<KeyValue>;
  /** Replace the value if the key's modRevision is still `expectedRevision`. */
  update(key: string, value: string, expectedRevision: number): Promise<KeyValue>;
  /** Delete; when `expectedRevision` is given, only if it still matches. Returns the deleted state and the delete's revision. */
  delete(key: string, expectedRevision?: number): Promise<{ deleted: KeyValue; revision: number }>;
  get(key: string): Promise<KeyValue | null>;
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /**
   * Deliver every change under `prefix` with revision > fromRevision, in revision order, then
   * every later change as it commits. Throws StorageError('Compacted') when history is gone.
   */
  watch(prefix: string, fromRevision: number, onEvents: (events: StorageEvent[]) => void): Promise<Unsubscribe>;
  /** Forget superseded history at or below `revision`. */
  compact(revision: number): Promise<void>;
}
