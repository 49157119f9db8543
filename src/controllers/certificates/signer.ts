// The built-in signers (upstream pkg/controller/certificates/signer): which requests each takes,
// the checks a request must pass (else the CSR gets a Failed condition), and the certificate the
// cluster CA issues for it.
import {
  KUBELET_CLIENT_SIGNER,
  KUBELET_SERVING_SIGNER,
  KUBE_APISERVER_CLIENT_SIGNER,
} from '../../api/certificates/v1/csr.js';
import type { ParsedRequest } from '../../api/certificates/v1/request.js';
import type { CA } from '../../machinery/pki.js';
import { KeyUsage, issueCertificate } from '../../machinery/certificate.js';

export const BUILTIN_SIGNERS = [KUBE_APISERVER_CLIENT_SIGNER, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER] as const;

/** --cluster-signing-duration's default: a year. */
export const DEFAULT_SIGNING_DURATION_MS = 365 * 24 * 3600 * 1000;
/** Certificates start this far in the past, for clocks slightly behind ours (upstream's backdate). */
const BACKDATE_MS = 5 * 60 * 1000;

/** Go's fmt of a []string: `[a b c]`. */
const goList = (xs: string[]) => `[${xs.join(' ')}]`;
const sameSet = (a: string[], b: string[]) => a.length === b.length && b.every((x) => a.includes(x));

function kubeletSubjectProblem(req: ParsedRequest): string | undefined {
  if (req.organizations.length !== 1 || req.organizations[0] !== 'system:nodes')
    return 'subject organization is not system:nodes';
  if (!req.commonName.startsWith('system:node:')) return 'subject common name does not begin with system:node:';
  return undefined;
}

/** upstream validAPIServerClientUsages. */
function apiServerClientProblem(usages: string[]): string | undefined {
  let clientAuth = false;
  for (const u of usages) {
    if (u === 'client auth') clientAuth = true;
    else if (u !== 'digital signature' && u !== 'key encipherment') return `invalid usage for client certificate: ${u}`;
  }
  return clientAuth ? undefined : 'missing required usage for client certificate: client auth';
}

/** upstream ValidateKubeletClientCSR. */
function kubeletClientProblem(req: ParsedRequest, usages: string[]): string | undefined {
  const subject = kubeletSubjectProblem(req);
  if (subject) return subject;
  if (req.dnsNames.length) return 'DNS subjectAltNames are not allowed';
  if (req.emailAddresses.length) return 'Email subjectAltNames are not allowed';
  if (req.ipAddresses.length) return 'IP subjectAltNames are not allowed';
  if (req.uris.length) return 'URI subjectAltNames are not allowed';
  const required = ['client auth', 'digital signature', 'key encipherment'];
  if (!sameSet(usages, required) && !sameSet(usages, ['client auth', 'digital signature']))
    return `usages did not match ${goList(required)}`;
  return undefined;
}

/** upstream ValidateKubeletServingCSR. */
function kubeletServingProblem(req: ParsedRequest, usages: string[]): string | undefined {
  const subject = kubeletSubjectProblem(req);
  if (subject) return subject;
  if (!req.dnsNames.length && !req.ipAddresses.length) return 'DNS or IP subjectAltName is required';
  if (req.emailAddresses.length) return 'Email subjectAltNames are not allowed';
  if (req.uris.length) return 'URI subjectAltNames are not allowed';
  const required = ['digital signature', 'key encipherment', 'server auth'];
  if (!sameSet(usages, required) && !sameSet(usages, ['digital signature', 'server auth']))
    return `usages did not match ${goList(required)}`;
  return undefined;
}

/**
 * Whether one of the built-in signers takes the request, and what is wrong with it for that
 * signer: undefined when it is not a built-in signer's, else { problem } (none: sign it).
 */
export function checkForSigner(
  signerName: string,
  req: ParsedRequest,
  usages: string[],
): { problem?: string } | undefined {
  switch (signerName) {
    case KUBE_APISERVER_CLIENT_SIGNER:
      return { problem: apiServerClientProblem(usages) };
    case KUBELET_CLIENT_SIGNER:
      return { problem: kubeletClientProblem(req, usages) };
    case KUBELET_SERVING_SIGNER:
      return { problem: kubeletServingProblem(req, usages) };
    default:
      return undefined;
  }
}

const KEY_USAGE_BITS: Record<string, number> = {
  signing: KeyUsage.digitalSignature,
  'digital signature': KeyUsage.digitalSignature,
  'content commitment': KeyUsage.contentCommitment,
  'key encipherment': KeyUsage.keyEncipherment,
  'key agreement': KeyUsage.keyAgreement,
  'data encipherment': KeyUsage.dataEncipherment,
  'cert sign': KeyUsage.keyCertSign,
  'crl sign': KeyUsage.cRLSign,
  'encipher only': KeyUsage.encipherOnly,
  'decipher only': KeyUsage.decipherOnly,
};

const EXT_KEY_USAGES: Record<string, string> = {
  any: '2.5.29.37.0',
  'server auth': '1.3.6.1.5.5.7.3.1',
  'client auth': '1.3.6.1.5.5.7.3.2',
  'code signing': '1.3.6.1.5.5.7.3.3',
  'email protection': '1.3.6.1.5.5.7.3.4',
  's/mime': '1.3.6.1.5.5.7.3.4',
  'ipsec end system': '1.3.6.1.5.5.7.3.5',
  'ipsec tunnel': '1.3.6.1.5.5.7.3.6',
  'ipsec user': '1.3.6.1.5.5.7.3.7',
  timestamping: '1.3.6.1.5.5.7.3.8',
  'ocsp signing': '1.3.6.1.5.5.7.3.9',
  'microsoft sgc': '1.3.6.1.4.1.311.10.3.3',
  'netscape sgc': '2.16.840.1.113730.4.1',
};

export interface SignOptions {
  /** Requested lifetime (spec.expirationSeconds), capped by `maxDurationMs`. */
  expirationSeconds?: number;
  maxDurationMs?: number;
  now?: number;
}

/** The lifetime a request gets: the signer's duration, shortened to what it asked for. */
export function certificateLifetimeMs(opts: SignOptions): number {
  const max = opts.maxDurationMs ?? DEFAULT_SIGNING_DURATION_MS;
  return typeof opts.expirationSeconds === 'number' ? Math.min(max, opts.expirationSeconds * 1000) : max;
}

/** Issue the certificate for an approved request: its subject, key and SANs; usages from the spec. */
export function signRequest(ca: CA, req: ParsedRequest, usages: string[], opts: SignOptions = {}): string {
  const now = opts.now ?? Date.now();
  const keyUsage = [...new Set(usages.map((u) => KEY_USAGE_BITS[u]).filter((b) => b !== undefined))];
  const extKeyUsage = [...new Set(usages.map((u) => EXT_KEY_USAGES[u]).filter(Boolean))];
  const san = req.csr.getExtension('2.5.29.17');
  const notAfter = Math.min(now + certificateLifetimeMs(opts), ca.notAfter.getTime());
  return issueCertificate(
    {
      subject: Buffer.from(req.csr.subjectName.toArrayBuffer()),
      publicKey: Buffer.from(req.csr.publicKey.rawData),
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      keyUsage,
      extKeyUsage,
      sans: san ? Buffer.from(san.value) : undefined,
    },
    ca,
  );
}
