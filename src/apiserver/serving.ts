// What parts of the API server that extend it at run time (custom resources, subresources with
// their own semantics) may use: the server implements this, they import only this.
import type { Logger } from 'pino';
import type { ResourceDef } from '../api/types.js';
import type { Definitions } from '../machinery/openapi/definitions.js';
import type { SubresourceInfo } from './discovery.js';
import type { RequestScope } from './rest.js';
import type { Store, WriteContext } from './store.js';

/** A subresource with its own semantics: `handle` serves HTTP, `call` in-process clients. */
export interface ExtraSubresource {
  info: SubresourceInfo;
  handle: (scope: RequestScope) => Promise<void>;
  call?: (namespace: string | undefined, name: string, body: any, ctx: WriteContext) => Promise<any>;
}

export interface ServingApi {
  readonly log: Logger;
  /** Extra subresources by `<group>/<plural>/<subresource>`. */
  readonly extraSubresources: Map<string, ExtraSubresource>;
  store(group: string, plural: string): Store;
  /** A resource's store once served (undefined before). */
  tryStore(group: string, plural: string): Store | undefined;
  storeFor(def: ResourceDef): Store;
  addResource(def: ResourceDef): Promise<void>;
  removeResource(def: ResourceDef): Promise<void>;
  replaceResource(old: ResourceDef, next: ResourceDef): void;
  registerSchema(group: string, version: string, kind: string, definition: string, extra: Definitions): void;
  unregisterSchema(group: string, version: string, kind: string): void;
}
