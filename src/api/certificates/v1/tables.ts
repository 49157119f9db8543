// Server-side printer columns for certificates.k8s.io/v1, as upstream's printers.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { TableColumn } from '../../types.js';
import { ageColumn, nameColumn } from '../../printing.js';
import { humanDuration } from '../../../machinery/duration.js';

/** upstream extractCSRStatus: Denied/Approved/Pending, then Failed and Issued. */
export function csrCondition(csr: CertificateSigningRequest): string {
  const types = new Set((csr.status?.conditions ?? []).map((c) => c.type));
  let s = types.has('Denied') ? 'Denied' : types.has('Approved') ? 'Approved' : 'Pending';
  if (types.has('Failed')) s += ',Failed';
  if (csr.status?.certificate) s += ',Issued';
  return s;
}

export const csrColumns: TableColumn[] = [
  nameColumn(),
  ageColumn(),
  {
    name: 'SignerName',
    type: 'string',
    description: 'Name of the signer the request is for.',
    cell: (o: CertificateSigningRequest) => o.spec?.signerName ?? '',
  },
  {
    name: 'Requestor',
    type: 'string',
    description: 'Name of the user who created the request.',
    cell: (o: CertificateSigningRequest) => o.spec?.username ?? '',
  },
  {
    name: 'RequestedDuration',
    type: 'string',
    description: 'Duration asked for the certificate.',
    cell: (o: CertificateSigningRequest) =>
      typeof o.spec?.expirationSeconds === 'number' ? humanDuration(o.spec.expirationSeconds * 1000) : '<none>',
  },
  {
    name: 'Condition',
    type: 'string',
    description: 'State of the request: approved, denied, failed, issued.',
    cell: (o: CertificateSigningRequest) => csrCondition(o),
  },
];
