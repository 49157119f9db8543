// The certificate controllers of kube-controller-manager: csrsigning (the built-in signers sign
// approved requests with the cluster CA, or mark invalid ones Failed) and csrcleaner (finished
// or abandoned requests are deleted after upstream's delays).
import type { Logger } from 'pino';
import type {
  CertificateSigningRequest,
  CertificateSigningRequestCondition,
} from 'kubernetes-types/certificates/v1.js';
import type { Client } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import { hasCondition } from '../../api/certificates/v1/csr.js';
import { decodeRequestField, parseCertificateRequest } from '../../api/certificates/v1/request.js';
import { caFromPem, notAfter, type CA } from '../../machinery/pki.js';
import type { Controller, ControllerContext } from '../types.js';
import { CERTIFICATE_SIGNING_REQUESTS, CSRSyncController } from './csrsync.js';
import { checkForSigner, signRequest } from './signer.js';

export { CERTIFICATE_SIGNING_REQUESTS };

/** The CA that signs for the built-in signers (kube-controller-manager --cluster-signing-cert/key-file). */
export interface ClusterSigning {
  certPem: string;
  keyPem: string;
  /** --cluster-signing-duration (default a year). */
  durationMs?: number;
}

const timestamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export class CSRSigningController extends CSRSyncController {
  private ca?: Promise<CA>;

  constructor(
    ctx: ControllerContext,
    private readonly signing: ClusterSigning,
  ) {
    super('csrsigning', ctx);
  }

  async sync(name: string): Promise<void> {
    const csr = this.csrs.indexer.getByName(undefined, name);
    // Only approved requests nobody has answered yet.
    if (!csr || csr.status?.certificate || !hasCondition(csr, 'Approved')) return;
    if (hasCondition(csr, 'Denied') || hasCondition(csr, 'Failed')) return;
    const req = parseCertificateRequest(decodeRequestField(csr.spec.request));
    const usages = csr.spec.usages ?? [];
    const verdict = checkForSigner(csr.spec.signerName, req, usages);
    if (!verdict) return; // another signer's
    let status: CertificateSigningRequest['status'];
    if (verdict.problem) {
      const failed: CertificateSigningRequestCondition = {
        type: 'Failed',
        status: 'True',
        reason: 'SignerValidationFailure',
        message: verdict.problem,
        lastUpdateTime: timestamp(Date.now()),
      };
      status = { ...csr.status, conditions: [...(csr.status?.conditions ?? []), failed] };
    } else {
      this.ca ??= caFromPem(this.signing.certPem, this.signing.keyPem);
      const pem = signRequest(await this.ca, req, usages, {
        expirationSeconds: csr.spec.expirationSeconds,
        maxDurationMs: this.signing.durationMs,
      });
      status = { ...csr.status, certificate: Buffer.from(pem).toString('base64') };
    }
    try {
      await this.client.resource(CERTIFICATE_SIGNING_REQUESTS).updateStatus({ ...csr, status });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}

const HOUR = 3600 * 1000;
/** upstream csrcleaner's delays. */
export const CLEANER_DELAYS = { approved: HOUR, denied: HOUR, failed: HOUR, pending: 24 * HOUR } as const;

const conditionTime = (csr: CertificateSigningRequest, type: string): number | undefined => {
  const c = (csr.status?.conditions ?? []).find((x) => x.type === type);
  const t = c?.lastUpdateTime ?? c?.lastTransitionTime;
  return t ? Date.parse(t) : undefined;
};

/**
 * Whether the cleaner deletes this request now (upstream isIssuedPastDeadline, isDeniedPastDeadline,
 * isFailedPastDeadline, isPendingPastDeadline, isIssuedExpired).
 */
export function csrIsStale(csr: CertificateSigningRequest, now: number): boolean {
  const past = (type: string, delay: number) => {
    const t = conditionTime(csr, type);
    return t !== undefined && t + delay <= now;
  };
  if (csr.status?.certificate) {
    try {
      const pem = Buffer.from(csr.status.certificate, 'base64').toString('utf8');
      if (notAfter(pem).getTime() <= now) return true;
    } catch {
      // an unreadable certificate is judged by its conditions
    }
  }
  if (past('Approved', CLEANER_DELAYS.approved) && csr.status?.certificate) return true;
  if (past('Denied', CLEANER_DELAYS.denied)) return true;
  if (past('Failed', CLEANER_DELAYS.failed)) return true;
  const answered = hasCondition(csr, 'Approved') || hasCondition(csr, 'Denied');
  const created = Date.parse(csr.metadata?.creationTimestamp ?? '');
  return !answered && created + CLEANER_DELAYS.pending <= now;
}

export class CSRCleanerController implements Controller {
  readonly name = 'csrcleaner';
  private readonly client: Client;
  private readonly csrs: SharedIndexInformer<CertificateSigningRequest>;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;

  constructor(
    ctx: ControllerContext,
    private readonly intervalMs = HOUR,
  ) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: this.name });
    this.csrs = ctx.informers.forResource(CERTIFICATE_SIGNING_REQUESTS);
  }

  start(): void {
    const tick = () => void this.clean().catch((err) => this.log.error({ err }, 'CSR cleanup failed'));
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return Promise.resolve();
  }

  async clean(now = Date.now()): Promise<void> {
    for (const csr of this.csrs.indexer.list()) {
      if (!csrIsStale(csr, now)) continue;
      try {
        await this.client.resource(CERTIFICATE_SIGNING_REQUESTS).delete(csr.metadata.name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}
