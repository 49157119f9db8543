// The agent renewing its own client certificate, as the kubelet's certificate manager does with
// rotateCertificates: at a jittered 70–90 % of the current certificate's lifetime it makes a new
// key, asks for a certificate with a CertificateSigningRequest (signer
// kubernetes.io/kube-apiserver-client-kubelet) sent with its current credential, waits for the
// csrapproving controller to approve it (selfnodeclient) and the signer to issue it, stores the
// pair (certstore.ts) and hands it to its clients. Failures are retried with back-off; a
// certificate that expired meanwhile can no longer ask, so `rejoin` (the join token) gets a new one.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { spec, type Client } from '../client/client.js';
import type { Watch, WatchEvent } from '../client/types.js';
import { KUBELET_CLIENT_SIGNER } from '../api/certificates/v1/csr.js';
import { generateKeys } from '../machinery/pki.js';
import { certificateRequest, distinguishedName } from '../machinery/certificate.js';
import { keyMatches, type ClientCredential } from './certstore.js';

export const CERTIFICATE_SIGNING_REQUESTS = spec<CertificateSigningRequest>({
  group: 'certificates.k8s.io',
  version: 'v1',
  plural: 'certificatesigningrequests',
  namespaced: false,
  kind: 'CertificateSigningRequest',
});

/** The shortest lifetime a CSR may ask for (spec.expirationSeconds, as upstream validates it). */
const MIN_EXPIRATION_SECONDS = 600;
/** How long one request may wait for approval and signing (the kubelet's certificateWaitTimeout). */
const CERTIFICATE_WAIT_MS = 15 * 60_000;
const BACKOFF_INITIAL_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** setTimeout's longest delay (about 24.8 days): longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** When to renew: notBefore + 70–90 % of the lifetime (upstream nextRotationDeadline); `random` in [0, 1). */
export function rotationDeadline(certPem: string, random = Math.random()): Date {
  const cert = new X509Certificate(certPem);
  const from = new Date(cert.validFrom).getTime();
  const lifetime = new Date(cert.validTo).getTime() - from;
  return new Date(from + lifetime * (0.7 + 0.2 * random));
}

export const notAfterOf = (certPem: string): Date => new Date(new X509Certificate(certPem).validTo);

/**
 * The lifetime a renewal asks for: the current certificate's, so that a cluster issuing short
 * certificates keeps them short (the signer caps it with its own duration); at least upstream's
 * minimum of ten minutes.
 */
export function requestedExpirationSeconds(certPem: string): number {
  const cert = new X509Certificate(certPem);
  const seconds = Math.round((new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()) / 1000);
  return Math.max(MIN_EXPIRATION_SECONDS, seconds);
}

export interface CertRotationOptions {
  /** Client acting with the current credential (it creates and watches the CSR). */
  client: Client;
  nodeName: string;
  current: ClientCredential;
  /** Persists a new pair (certstore.ts) before it is used. */
  store: (cred: ClientCredential) => void;
  /** Switches the agent's clients to a new pair. */
  use: (cred: ClientCredential) => void;
  /** A new pair without the current one (the join token), for when it expired; none: keep asking. */
  rejoin?: () => Promise<ClientCredential>;
  logger: Logger;
  random?: () => number;
}

export class ClientCertRotation {
  private current: ClientCredential;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;
  private inflight?: Promise<void>;
  /** The watch on a pending request, stopped by stop(). */
  private watch?: Watch;
  private readonly log: Logger;
  private readonly random: () => number;

  constructor(private readonly o: CertRotationOptions) {
    this.current = o.current;
    this.log = o.logger.child({ component: 'certificate-rotation' });
    this.random = o.random ?? Math.random;
  }

  /** The credential in use. */
  get credential(): ClientCredential {
    return this.current;
  }

  start(): void {
    this.schedule(rotationDeadline(this.current.certPem, this.random()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watch?.stop();
    await this.inflight?.catch(() => undefined);
  }

  private schedule(at: Date): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const wait = Math.max(0, at.getTime() - Date.now());
    if (this.failures === 0)
      this.log.info(
        { rotateAt: at.toISOString(), notAfter: notAfterOf(this.current.certPem).toISOString() },
        'client certificate rotation scheduled',
      );
    this.timer = setTimeout(
      () => {
        if (Date.now() < at.getTime()) return this.schedule(at); // a long wait taken in steps
        this.inflight = this.rotate();
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  private async rotate(): Promise<void> {
    try {
      const next = await this.obtain();
      if (this.stopped) return;
      this.o.store(next);
      this.current = next;
      this.o.use(next);
      this.failures = 0;
      this.log.info(
        { notAfter: notAfterOf(next.certPem).toISOString() },
        'client certificate rotated: new connections use the new certificate',
      );
      this.schedule(rotationDeadline(next.certPem, this.random()));
    } catch (err) {
      if (this.stopped) return;
      this.failures++;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** (this.failures - 1)) * (1 + 0.1 * this.random());
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err), attempt: this.failures, retryInMs: Math.round(delay) },
        'client certificate rotation failed; retrying',
      );
      this.schedule(new Date(Date.now() + delay));
    }
  }

  /** A new pair: through a CSR while the current certificate is valid, else by joining again. */
  private async obtain(): Promise<ClientCredential> {
    const expiry = notAfterOf(this.current.certPem);
    if (expiry.getTime() <= Date.now()) {
      const how = this.o.rejoin
        ? 'requesting a new one with the join token'
        : 'it cannot be renewed with itself; restart the agent with its join token';
      this.log.error(
        { notAfter: expiry.toISOString() },
        `the client certificate of node ${this.o.nodeName} expired at ${expiry.toISOString()}: ${how}`,
      );
      if (this.o.rejoin) return this.o.rejoin();
    }
    return this.requestCertificate();
  }

  private async requestCertificate(): Promise<ClientCredential> {
    const keys = generateKeys();
    const keyPem = keys.keyPem;
    const csrPem = certificateRequest(distinguishedName(`system:node:${this.o.nodeName}`, ['system:nodes']), keys);
    const csrs = this.o.client.resource(CERTIFICATE_SIGNING_REQUESTS);
    const created = await csrs.create({
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { generateName: 'csr-' },
      spec: {
        request: Buffer.from(csrPem).toString('base64'),
        signerName: KUBELET_CLIENT_SIGNER,
        usages: ['digital signature', 'client auth'],
        expirationSeconds: requestedExpirationSeconds(this.current.certPem),
      },
    });
    const name = created.metadata.name;
    this.log.info({ csr: name }, 'client certificate requested; waiting for approval and signing');
    const certPem = await this.waitForCertificate(name, created);
    const next = { certPem, keyPem };
    if (!keyMatches(next))
      throw new Error(`CertificateSigningRequest ${name}: the issued certificate is not for our key`);
    return next;
  }

  /** Watches the request until it has a certificate, is refused, or the wait times out. */
  private async waitForCertificate(name: string, first: CertificateSigningRequest): Promise<string> {
    const csrs = this.o.client.resource(CERTIFICATE_SIGNING_REQUESTS);
    const deadline = Date.now() + CERTIFICATE_WAIT_MS;
    let csr = first;
    for (;;) {
      const issued = issuedCertificate(name, csr);
      if (issued) return issued;
      if (this.stopped) throw new Error('stopped');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`CertificateSigningRequest ${name} was not approved and signed within 15 minutes`);
      // One watch from the version we saw: it ends at the first change (or its timeout, or an error).
      let seen: WatchEvent<CertificateSigningRequest> | undefined;
      const w = (this.watch = csrs.watch(
        {
          fieldSelector: `metadata.name=${name}`,
          resourceVersion: csr.metadata?.resourceVersion,
          timeoutSeconds: Math.max(1, Math.min(300, Math.ceil(left / 1000))),
        },
        (ev) => {
          if (seen || ev.type === 'BOOKMARK' || ev.type === 'ERROR') return;
          seen = ev;
          w.stop();
        },
      ));
      await w.done;
      this.watch = undefined;
      const changed = seen;
      if (changed?.type === 'DELETED')
        throw new Error(`CertificateSigningRequest ${name} was deleted before it was signed`);
      // A watch that ended without news (timeout, too old a version): read the request again.
      csr = changed?.object ?? (await csrs.get(name));
    }
  }
}

/** The issued certificate, undefined while pending; throws when the request was refused. */
function issuedCertificate(name: string, csr: CertificateSigningRequest): string | undefined {
  for (const c of csr.status?.conditions ?? []) {
    if ((c.type === 'Denied' || c.type === 'Failed') && c.status !== 'False') {
      const why = [c.reason, c.message].filter(Boolean).join(': ');
      throw new Error(`CertificateSigningRequest ${name} was ${c.type.toLowerCase()}${why ? ` (${why})` : ''}`);
    }
  }
  const approved = (csr.status?.conditions ?? []).some((c) => c.type === 'Approved' && c.status !== 'False');
  if (!approved || !csr.status?.certificate) return undefined;
  return Buffer.from(csr.status.certificate, 'base64').toString('utf8');
}
