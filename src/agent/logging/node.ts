// A node's log handling, started by the agent: the kubelet's container log manager (layout
// links and rotation, rotate.ts) and, with --log-sink, the log shipper (shipper.ts).
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Runtime } from '../runtime/types.js';
import { ContainerLogManager, DEFAULT_CONTAINER_LOG_MAX_FILES, DEFAULT_CONTAINER_LOG_MAX_SIZE } from './rotate.js';
import { LogShipper } from './shipper.js';
import type { Sink } from './sinks.js';
import type { Client } from '../../client/client.js';
import { EventExporter } from './events.js';

export interface NodeLoggingSettings {
  /** The kubelet's /var/log: pods/ and containers/ go here (default <data-dir>/agent/logs). */
  logDir?: string;
  /** --container-log-max-size in bytes (default 10 MiB). */
  maxSizeBytes?: number;
  /** --container-log-max-files (default 5). */
  maxFiles?: number;
  /** --log-sink: where the shipper sends every container's lines (none: no shipper). */
  sinks?: Sink[];
  /** How often rotation looks at the files (ms; default 10 s, tests make it shorter). */
  rotationIntervalMs?: number;
  /** Also export every Event of the cluster to the sinks (the server's own node does it). */
  exportEvents?: boolean;
}

export class NodeLogging {
  private manager?: ContainerLogManager;
  private shipper?: LogShipper;
  private events?: EventExporter;

  constructor(
    private readonly s: NodeLoggingSettings & { logDir: string; stateDir: string; nodeName: string },
    private readonly logger: Logger,
  ) {}

  start(
    runtime: Runtime,
    client: Client,
    podLabels: (namespace: string, name: string) => Record<string, string> | undefined,
    eventsClient: Client = client,
  ): void {
    this.manager = new ContainerLogManager(runtime, {
      logDir: this.s.logDir,
      maxSizeBytes: this.s.maxSizeBytes ?? DEFAULT_CONTAINER_LOG_MAX_SIZE,
      maxFiles: this.s.maxFiles ?? DEFAULT_CONTAINER_LOG_MAX_FILES,
      intervalMs: this.s.rotationIntervalMs,
      logger: this.logger,
    });
    this.manager.start();
    if (this.s.sinks?.length) {
      this.shipper = new LogShipper({
        logDir: this.s.logDir,
        nodeName: this.s.nodeName,
        sinks: this.s.sinks,
        positionFile: join(this.s.stateDir, 'log-positions.json'),
        podLabels,
        logger: this.logger,
      });
      this.shipper.start();
      if (this.s.exportEvents) {
        this.events = new EventExporter({
          client: eventsClient,
          sinks: this.s.sinks,
          positionFile: join(this.s.stateDir, 'event-positions.json'),
          logger: this.logger,
        });
        this.events.start();
      }
    }
  }

  async stop(): Promise<void> {
    await this.events?.stop();
    await this.shipper?.stop();
    await this.manager?.stop();
  }
}
