// The OpenAPI documents of remote group versions, read from each extension server after a
// passed availability check: v3 (its /openapi/v3 index, then the document the index names for
// the group version) is listed in this server's /openapi/v3 index and served from here; v2 (its
// /openapi/v2) has its paths under the group version and its definitions merged into this
// server's /openapi/v2 (local definitions win a name clash, as upstream's merge keeps the
// first). Clients (kubectl explain, field validation) find remote kinds as they find local ones.
import { createHash } from 'node:crypto';
import type { ServedDocument } from '../../machinery/openapi/documents.js';
import type { KeyPair } from '../../machinery/pki.js';
import type { ServiceAddress } from '../admission/webhook/service.js';
import { type RemoteAPIService, fetchRemote } from './remote.js';
import { byKey } from '../../machinery/order.js';

const USER = { name: 'system:kube-aggregator', groups: ['system:masters'] };
const TIMEOUT_MS = 5_000;

interface RemoteDocument extends ServedDocument {
  path: string;
}

interface SwaggerV2 {
  paths?: Record<string, unknown>;
  definitions?: Record<string, unknown>;
}

const documentOf = (json: string): ServedDocument => {
  const hash = createHash('sha512').update(json).digest('hex').slice(0, 128).toUpperCase();
  return { json, hash, etag: `"${hash}"` };
};

const pathOf = (r: RemoteAPIService) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`);

export class RemoteOpenAPI {
  /** By APIService name. */
  private docs = new Map<string, RemoteDocument>();
  /** By APIService name: the remote's v2 paths (of its group version) and definitions. */
  private v2Docs = new Map<string, SwaggerV2>();
  private merged?: { from: string; generation: number; doc: string };
  private mergedV2?: { from: string; generation: number; doc: ServedDocument };
  private generation = 0;

  /** Read the remote's document for its group version; a failure keeps what was read before. */
  async refresh(r: RemoteAPIService, addr: ServiceAddress, client: KeyPair): Promise<void> {
    await Promise.all([this.refreshV3(r, addr, client), this.refreshV2(r, addr, client)]);
  }

  private async refreshV2(r: RemoteAPIService, addr: ServiceAddress, client: KeyPair): Promise<void> {
    const got = await fetchRemote(r, addr, client, '/openapi/v2', USER, TIMEOUT_MS);
    if (got.status !== 200) return;
    const doc = JSON.parse(got.body.toString('utf8')) as SwaggerV2;
    // Only the paths of the APIService's own group version: another's are not routed to it.
    const prefix = `/${pathOf(r)}/`;
    const paths = Object.fromEntries(
      Object.entries(doc.paths ?? {}).filter(([p]) => p.startsWith(prefix) || p === prefix.slice(0, -1)),
    );
    const next: SwaggerV2 = { paths, definitions: doc.definitions ?? {} };
    if (JSON.stringify(this.v2Docs.get(r.name)) === JSON.stringify(next)) return;
    this.v2Docs.set(r.name, next);
    this.generation++;
  }

  /** This server's /openapi/v2 with the remote paths and definitions merged in. */
  v2(local: ServedDocument): ServedDocument {
    if (!this.v2Docs.size) return local;
    if (this.mergedV2?.from === local.etag && this.mergedV2.generation === this.generation) return this.mergedV2.doc;
    const doc = JSON.parse(local.json) as { paths: Record<string, unknown>; definitions: Record<string, unknown> };
    for (const remote of this.v2Docs.values()) {
      for (const [p, item] of Object.entries(remote.paths ?? {})) doc.paths[p] ??= item;
      for (const [name, def] of Object.entries(remote.definitions ?? {})) doc.definitions[name] ??= def;
    }
    this.mergedV2 = { from: local.etag, generation: this.generation, doc: documentOf(JSON.stringify(doc)) };
    return this.mergedV2.doc;
  }

  private async refreshV3(r: RemoteAPIService, addr: ServiceAddress, client: KeyPair): Promise<void> {
    const index = await fetchRemote(r, addr, client, '/openapi/v3', USER, TIMEOUT_MS);
    if (index.status !== 200) return;
    const paths = (
      JSON.parse(index.body.toString('utf8')) as { paths?: Record<string, { serverRelativeURL?: string }> }
    ).paths;
    const url = paths?.[pathOf(r)]?.serverRelativeURL;
    if (!url || !url.startsWith('/')) return;
    const got = await fetchRemote(r, addr, client, url, USER, TIMEOUT_MS);
    if (got.status !== 200) return;
    const doc = documentOf(JSON.stringify(JSON.parse(got.body.toString('utf8'))));
    if (this.docs.get(r.name)?.hash === doc.hash) return;
    this.docs.set(r.name, { path: pathOf(r), ...doc });
    this.generation++;
  }

  forget(name: string): void {
    if (this.docs.delete(name)) this.generation++;
    if (this.v2Docs.delete(name)) this.generation++;
  }

  /** The document at `path` ("apis/g/v") if a remote's. */
  document(path: string): ServedDocument | undefined {
    const clean = path.replace(/^\/+|\/+$/g, '');
    for (const d of this.docs.values()) if (d.path === clean) return d;
    return undefined;
  }

  /** This server's /openapi/v3 index with the remote group versions added. */
  index(local: ServedDocument): string {
    if (!this.docs.size) return local.json;
    if (this.merged?.from === local.etag && this.merged.generation === this.generation) return this.merged.doc;
    const doc = JSON.parse(local.json) as { paths: Record<string, { serverRelativeURL: string }> };
    for (const d of this.docs.values())
      doc.paths[d.path] = { serverRelativeURL: `/openapi/v3/${d.path}?hash=${d.hash}` };
    doc.paths = Object.fromEntries(Object.entries(doc.paths).sort(byKey));
    this.merged = { from: local.etag, generation: this.generation, doc: JSON.stringify(doc) };
    return this.merged.doc;
  }
}
