// The OpenAPI v3 documents of remote group versions: read from each extension server after a
// passed availability check (its /openapi/v3 index, then the document its index names for the
// group version), listed in this server's /openapi/v3 index and served from here, so clients
// (kubectl explain, kubectl's field validation) find remote kinds as they find local ones.
import { createHash } from 'node:crypto';
import type { ServedDocument } from '../../machinery/openapi/documents.js';
import type { KeyPair } from '../pki.js';
import type { ServiceAddress } from '../admission/webhook/service.js';
import { type RemoteAPIService, fetchRemote } from './remote.js';

const USER = { name: 'system:kube-aggregator', groups: ['system:masters'] };
const TIMEOUT_MS = 5_000;

interface RemoteDocument extends ServedDocument {
  path: string;
}

const pathOf = (r: RemoteAPIService) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`);

export class RemoteOpenAPI {
  /** By APIService name. */
  private docs = new Map<string, RemoteDocument>();
  private merged?: { from: string; generation: number; doc: string };
  private generation = 0;

  /** Read the remote's document for its group version; a failure keeps what was read before. */
  async refresh(r: RemoteAPIService, addr: ServiceAddress, client: KeyPair): Promise<void> {
    const index = await fetchRemote(r, addr, client, '/openapi/v3', USER, TIMEOUT_MS);
    if (index.status !== 200) return;
    const paths = (
      JSON.parse(index.body.toString('utf8')) as { paths?: Record<string, { serverRelativeURL?: string }> }
    ).paths;
    const url = paths?.[pathOf(r)]?.serverRelativeURL;
    if (!url || !url.startsWith('/')) return;
    const got = await fetchRemote(r, addr, client, url, USER, TIMEOUT_MS);
    if (got.status !== 200) return;
    const json = JSON.stringify(JSON.parse(got.body.toString('utf8')));
    const hash = createHash('sha512').update(json).digest('hex').slice(0, 128).toUpperCase();
    if (this.docs.get(r.name)?.hash === hash) return;
    this.docs.set(r.name, { path: pathOf(r), json, hash, etag: `"${hash}"` });
    this.generation++;
  }

  forget(name: string): void {
    if (this.docs.delete(name)) this.generation++;
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
    doc.paths = Object.fromEntries(Object.entries(doc.paths).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    this.merged = { from: local.etag, generation: this.generation, doc: JSON.stringify(doc) };
    return this.merged.doc;
  }
}
