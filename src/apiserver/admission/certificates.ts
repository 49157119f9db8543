// The admission plugins of certificates.k8s.io, as upstream's: the requester recorded in the
// spec of a new CertificateSigningRequest (upstream's strategy does it; here admission is where
// the user is known), CertificateApproval and CertificateSigning (approving or signing needs the
// `approve` / `sign` verb on the signer, as `signers` in certificates.k8s.io, by exact name or
// `domain/*`) and CertificateSubjectRestriction (no system:masters through the client signer).
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { attributes, type Authorizer } from '../authz/types.js';
import type { UserInfo } from '../user.js';
import { type AdmissionAttributes, type MutatingPlugin, type ValidatingPlugin, forbiddenFor } from './interfaces.js';
import { KUBE_APISERVER_CLIENT_SIGNER } from '../../api/certificates/v1/csr.js';
import { decodeRequestField, parseCertificateRequest } from '../../api/certificates/v1/request.js';

const GROUP = 'certificates.k8s.io';
const isCsr = (a: AdmissionAttributes) => a.group === GROUP && a.resource === 'certificatesigningrequests';

/** upstream IsAuthorizedForSignerName: the exact signer, else every signer of its domain. */
export function authorizedForSigner(authz: Authorizer, user: UserInfo, verb: string, signerName: string): boolean {
  const ask = (name: string) =>
    authz.authorize(attributes({ user, verb, apiGroup: GROUP, apiVersion: '*', resource: 'signers', name }))
      .decision === 'Allow';
  return ask(signerName) || ask(`${signerName.split('/')[0]}/*`);
}

export class CertificateRequester implements MutatingPlugin {
  readonly name = 'CertificateSigningRequestRequester';
  handles(a: AdmissionAttributes): boolean {
    return a.operation === 'CREATE' && !a.subresource && isCsr(a);
  }
  admit(a: AdmissionAttributes): void {
    const csr = a.object as CertificateSigningRequest;
    const spec = (csr.spec ??= { request: '', signerName: '' });
    const u = a.user;
    delete spec.username;
    delete spec.uid;
    delete spec.groups;
    delete spec.extra;
    if (u.name) spec.username = u.name;
    if (u.uid) spec.uid = u.uid;
    if (u.groups.length) spec.groups = [...u.groups];
    if (u.extra && Object.keys(u.extra).length) spec.extra = u.extra;
  }
}

/** Approval and signing: each needs its verb on the signer (no authorizer configured: nothing to check). */
export class CertificateSignerAccess implements ValidatingPlugin {
  readonly name = 'CertificateApproval,CertificateSigning';
  constructor(private readonly authorizer: () => Authorizer | undefined) {}
  handles(a: AdmissionAttributes): boolean {
    return a.operation === 'UPDATE' && isCsr(a) && (a.subresource === 'approval' || a.subresource === 'status');
  }
  validate(a: AdmissionAttributes): void {
    const authz = this.authorizer();
    if (!authz) return;
    const old = a.oldObject as CertificateSigningRequest;
    const signer = old.spec?.signerName ?? '';
    if (a.subresource === 'approval') {
      if (!authorizedForSigner(authz, a.user, 'approve', signer))
        throw forbiddenFor(a, `user not permitted to approve requests with signerName ${JSON.stringify(signer)}`);
      return;
    }
    const now = (a.object as CertificateSigningRequest).status?.certificate ?? '';
    if (now === (old.status?.certificate ?? '')) return;
    if (!authorizedForSigner(authz, a.user, 'sign', signer))
      throw forbiddenFor(a, `user not permitted to sign requests with signerName ${JSON.stringify(signer)}`);
  }
}

export class CertificateSubjectRestriction implements ValidatingPlugin {
  readonly name = 'CertificateSubjectRestriction';
  handles(a: AdmissionAttributes): boolean {
    return a.operation === 'CREATE' && !a.subresource && isCsr(a);
  }
  validate(a: AdmissionAttributes): void {
    const csr = a.object as CertificateSigningRequest;
    if (csr.spec?.signerName !== KUBE_APISERVER_CLIENT_SIGNER) return;
    let organizations: string[];
    try {
      organizations = parseCertificateRequest(decodeRequestField(csr.spec.request)).organizations;
    } catch {
      return; // validation already refused it
    }
    if (organizations.includes('system:masters'))
      throw forbiddenFor(a, `use of ${KUBE_APISERVER_CLIENT_SIGNER} signer with system:masters group is not allowed`);
  }
}
