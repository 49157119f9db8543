// csrapproving (upstream pkg/controller/certificates/approver, sarapprove.go): requests for the
// kubelet client signer are approved automatically when their requester may have them, asked
// with a SubjectAccessReview on a virtual subresource: `certificatesigningrequests/selfnodeclient`
// for a node renewing its own client certificate (the CSR's CN is the requester), `nodeclient` for
// any node client certificate (a bootstrapping node). A request recognized but not allowed stays
// pending for a person (`kubectl certificate approve`); other signers' requests are not touched.
import type {
  CertificateSigningRequest,
  CertificateSigningRequestCondition,
} from 'kubernetes-types/certificates/v1.js';
import type { ResourceAttributes, SubjectAccessReview } from 'kubernetes-types/authorization/v1.js';
import { spec } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import { KUBELET_CLIENT_SIGNER, hasCondition } from '../../api/certificates/v1/csr.js';
import { type ParsedRequest, decodeRequestField, parseCertificateRequest } from '../../api/certificates/v1/request.js';
import type { ControllerContext } from '../types.js';
import { CERTIFICATE_SIGNING_REQUESTS, CSRSyncController } from './csrsync.js';
import { checkForSigner } from './signer.js';

const SUBJECT_ACCESS_REVIEWS = spec<SubjectAccessReview>({
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'subjectaccessreviews',
  namespaced: false,
  kind: 'SubjectAccessReview',
});

interface Recognizer {
  recognize(csr: CertificateSigningRequest, req: ParsedRequest): boolean;
  subresource: string;
  message: string;
}

/** upstream isNodeClientCert: the kubelet client signer, and a request that signer would sign. */
function isNodeClientCert(csr: CertificateSigningRequest, req: ParsedRequest): boolean {
  if (csr.spec.signerName !== KUBELET_CLIENT_SIGNER) return false;
  const verdict = checkForSigner(KUBELET_CLIENT_SIGNER, req, csr.spec.usages ?? []);
  return !!verdict && !verdict.problem;
}

/** In upstream's order: self-renewal first. */
export const RECOGNIZERS: Recognizer[] = [
  {
    recognize: (csr, req) => isNodeClientCert(csr, req) && csr.spec.username === req.commonName,
    subresource: 'selfnodeclient',
    message: 'Auto approving self kubelet client certificate after SubjectAccessReview.',
  },
  {
    recognize: isNodeClientCert,
    subresource: 'nodeclient',
    message: 'Auto approving kubelet client certificate after SubjectAccessReview.',
  },
];

export class CSRApprovingController extends CSRSyncController {
  constructor(ctx: ControllerContext) {
    super('csrapproving', ctx);
  }

  async sync(name: string): Promise<void> {
    const csr = this.csrs.indexer.getByName(undefined, name);
    if (!csr || csr.status?.certificate) return;
    if (hasCondition(csr, 'Approved') || hasCondition(csr, 'Denied')) return;
    let req: ParsedRequest;
    try {
      req = parseCertificateRequest(decodeRequestField(csr.spec.request));
    } catch (err) {
      this.log.debug({ err, csr: name }, 'unable to parse csr');
      return;
    }
    for (const r of RECOGNIZERS) {
      if (!r.recognize(csr, req)) continue;
      if (!(await this.allowed(csr, r.subresource))) continue;
      const approved: CertificateSigningRequestCondition = {
        type: 'Approved',
        status: 'True',
        reason: 'AutoApproved',
        message: r.message,
        lastUpdateTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      };
      const status = { ...csr.status, conditions: [...(csr.status?.conditions ?? []), approved] };
      try {
        await this.client.resource(CERTIFICATE_SIGNING_REQUESTS).updateSubresource('approval', { ...csr, status });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      return;
    }
  }

  /** May the requester create the CSR's virtual subresource (upstream's SubjectAccessReview)? */
  private async allowed(csr: CertificateSigningRequest, subresource: string): Promise<boolean> {
    const resourceAttributes: ResourceAttributes = {
      group: 'certificates.k8s.io',
      resource: 'certificatesigningrequests',
      verb: 'create',
      subresource,
      version: '*',
    };
    const review = await this.client.resource(SUBJECT_ACCESS_REVIEWS).create({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: csr.spec.username,
        uid: csr.spec.uid,
        groups: csr.spec.groups,
        extra: csr.spec.extra,
        resourceAttributes,
      },
    });
    return review.status?.allowed === true;
  }
}
