// certificates.k8s.io/v1: CertificateSigningRequest.
import type { ResourceDef } from '../../types.js';
import { certificateSigningRequests } from './csr.js';

export { certificateSigningRequests };

export const resources: ResourceDef[] = [certificateSigningRequests];
