// What every controller gets from the controller manager, and what it gives back.
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import type { SharedInformerFactory } from '../client/informer.js';

export interface ControllerContext {
  client: Client;
  informers: SharedInformerFactory;
  logger: Logger;
}

export interface Controller {
  readonly name: string;
  /** Start workers (informers are started and synced by the manager before this). */
  start(): void;
  stop(): Promise<void>;
}

export type ControllerInit = (ctx: ControllerContext) => Controller;
