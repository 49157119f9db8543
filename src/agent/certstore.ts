// Where a joined agent keeps its client certificate, as the kubelet's certificate store does:
// each certificate and its key together in one dated PEM file (client-kubelet-<stamp>.pem, 0600),
// and client-kubelet-current.pem a symlink to the one in use. A new pair is written beside the old
// one and the link replaced by a rename, so a crash at any point leaves either the old pair or the
// new one in use, never a certificate with another certificate's key.
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import {
  existsSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';

export interface ClientCredential {
  certPem: string;
  keyPem: string;
}

export const CURRENT_CLIENT_PEM = 'client-kubelet-current.pem';
/** What agents before rotation stored (two files): still read, removed once a pair is stored. */
const LEGACY = { cert: 'client-kubelet.crt', key: 'client-kubelet.key' };
const DATED = /^client-kubelet-\d{4}(-\d{2}){5}(-\d+)?\.pem$/;

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g;

/** The certificate and key of one combined PEM text (blocks in any order). */
export function splitPem(text: string): ClientCredential {
  let certPem = '';
  let keyPem = '';
  for (const m of text.matchAll(PEM_BLOCK)) {
    const block = m[0].endsWith('\n') ? m[0] : `${m[0]}\n`;
    if (m[1] === 'CERTIFICATE') certPem += block;
    else if (m[1].endsWith('PRIVATE KEY') && !keyPem) keyPem = block;
  }
  if (!certPem || !keyPem) throw new Error('the PEM file does not hold both a certificate and a private key');
  return { certPem, keyPem };
}

/** Whether the key is the certificate's (a pair torn apart by a crash would not be). */
export function keyMatches({ certPem, keyPem }: ClientCredential): boolean {
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  return fromCert.equals(fromKey);
}

/** The stored client credential (the current link, else the legacy pair); undefined when there is none. */
export function loadClientCredential(dir: string): ClientCredential | undefined {
  const current = join(dir, CURRENT_CLIENT_PEM);
  if (existsSync(current)) return splitPem(readFileSync(current, 'utf8'));
  const cert = join(dir, LEGACY.cert);
  const key = join(dir, LEGACY.key);
  if (existsSync(cert) && existsSync(key))
    return { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
  return undefined;
}

const stamp = (d: Date) => d.toISOString().slice(0, 19).replace(/[T:]/g, '-');

/**
 * Stores a new pair and makes it current atomically; returns the dated file's path. The pair it
 * replaced is kept (one step back, as the kubelet keeps its old files), older ones removed.
 */
export function storeClientCredential(dir: string, cred: ClientCredential, now = new Date()): string {
  if (!keyMatches(cred)) throw new Error('refusing to store a client certificate with a key that is not its own');
  let name = `client-kubelet-${stamp(now)}.pem`;
  for (let i = 1; existsSync(join(dir, name)); i++) name = `client-kubelet-${stamp(now)}-${i}.pem`;
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, cred.certPem + cred.keyPem, { mode: 0o600 });
  renameSync(tmp, path);
  const current = join(dir, CURRENT_CLIENT_PEM);
  const previous = currentTarget(dir);
  const link = `${current}.tmp`;
  rmSync(link, { force: true });
  symlinkSync(name, link);
  renameSync(link, current);
  for (const f of readdirSync(dir)) {
    if (f !== name && f !== previous && DATED.test(f)) rmSync(join(dir, f), { force: true });
  }
  for (const f of Object.values(LEGACY)) rmSync(join(dir, f), { force: true });
  return path;
}

/** The dated file the current link points at (undefined: no link, or a plain file). */
function currentTarget(dir: string): string | undefined {
  try {
    // The link is written relative (a bare file name), so the data dir can move.
    return basename(readlinkSync(join(dir, CURRENT_CLIENT_PEM)));
  } catch {
    return undefined;
  }
}
