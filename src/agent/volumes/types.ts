// The volume plugin contract. Each plugin prepares one kind of pod volume on the host and says
// which host path a container mount of it binds; the manager owns the directory layout
// (`<podsDir>/<podUID>/volumes/<plugin>/<volume>`, as upstream) and error reporting.
import type { Pod, Volume } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import type { Client } from '../../client/client.js';
import type { Allocatable } from './downward.js';
import type { SourceReader } from './sources.js';

export interface VolumeContext {
  client: Client;
  /** Root of per-pod directories, e.g. /var/lib/k8ts/agent/pods. */
  podsDir: string;
  nodeName: string;
  logger?: Logger;
  /** Node allocatable, for downward API limits a container does not set. */
  nodeAllocatable?: Allocatable;
  /**
   * Secret and projected volumes live on tmpfs like upstream, so secrets never reach a disk.
   * Default true; falls back to a plain directory when mounting is not permitted.
   */
  secretsOnTmpfs?: boolean;
}

/** A failed volume set-up; the agent reports it as a FailedMount event and retries. */
export class VolumeError extends Error {
  readonly reason = 'FailedMount';
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(message);
    this.name = 'VolumeError';
  }
}

/** One prepared volume of a pod. */
export interface PodVolume {
  name: string;
  /** Upstream plugin directory name, e.g. "kubernetes.io~configmap". */
  plugin: string;
  /** Host path a volumeMount binds (a directory, or a file/socket/device for hostPath). */
  path: string;
  /** Mounted read-only whatever the volumeMount says (configMap, secret, ... or readOnly claims). */
  readOnly: boolean;
  /** Content is re-derived from API objects by refresh(). */
  refreshable: boolean;
}

export type PodVolumes = Map<string, PodVolume>;

export interface PluginCall {
  ctx: VolumeContext;
  pod: Pod;
  volume: Volume;
  reader: SourceReader;
  /** `<podsDir>/<podUID>/volumes/<plugin>/<volume>`: where plugins that own their data keep it. */
  dir: string;
}

export interface SetUpResult {
  path: string;
  readOnly: boolean;
  /** Whether anything visible in the volume changed (for refresh). */
  changed: boolean;
  /** When the plugin resolved to another upstream plugin (a claim bound to a hostPath PV). */
  plugin?: string;
}

export interface VolumePlugin {
  readonly name: string;
  readonly refreshable: boolean;
  matches(v: Volume): boolean;
  setUp(call: PluginCall): Promise<SetUpResult>;
}
