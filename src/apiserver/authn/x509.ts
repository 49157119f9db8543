// Client certificates: the TLS layer verified the chain to one of the CAs it trusts (requestCert
// with rejectUnauthorized off), this says what the certificate is: a user of the cluster CA (CN
// the user, O the groups: upstream's CommonNameUserConversion), a front proxy of the
// request-header CA (requestheader.ts), both when one CA is both, or nothing.
import type { IncomingMessage } from 'node:http';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { userFromSubject } from '../../machinery/pki.js';
import { connectionOf } from '../transport.js';
import { AUTHENTICATED_GROUP, type UserInfo } from './types.js';

/** What a verified certificate can stand for. */
export interface VerifiedCertificate {
  /** The user it names, when the cluster (client) CA issued it. */
  user?: UserInfo;
  /** Its common name, when a request-header CA issued it. */
  proxy?: { commonName: string };
}

/**
 * A connection's client certificate: what it stands for (shared by the connection's requests,
 * so copied before use), one that failed verification or stands for nothing, or none.
 */
export type CertificateIdentity = VerifiedCertificate | 'invalid' | 'none';

/**
 * Which CAs issue what, by SHA-256 fingerprint. Without it every verified chain is a cluster-CA
 * user (the listener then trusts the cluster CA only).
 */
export interface CertificateTrust {
  client: Set<string>;
  requestHeader: Set<string>;
}

/** Decoded once per connection: its certificate can't change (renegotiation is off). */
const identities = new WeakMap<object, CertificateIdentity>();

export function certificateIdentity(req: IncomingMessage, trust?: CertificateTrust): CertificateIdentity {
  // For HTTP/2, req.socket stands in for the session's TLS socket.
  const sock = req.socket as TLSSocket;
  const connection = connectionOf(req);
  let identity = identities.get(connection);
  if (identity === undefined) {
    identity = identify(sock, trust);
    identities.set(connection, identity);
  }
  return identity;
}

/** The last certificate of a verified chain (Node completes it with the trusted CA). */
function rootOf(cert: DetailedPeerCertificate): PeerCertificate {
  let c = cert;
  for (let i = 0; i < 16 && c.issuerCertificate && c.issuerCertificate !== c; i++) c = c.issuerCertificate;
  return c;
}

function identify(sock: TLSSocket, trust: CertificateTrust | undefined): CertificateIdentity {
  // getPeerCertificate() decodes the whole certificate (10% of the CPU of a small request): once.
  const cert = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate(!!trust) : undefined;
  const presented = !!cert && Object.keys(cert).length > 0;
  if (!presented) return 'none';
  // A certificate that does not chain to a trusted CA (or has expired) authenticates nobody:
  // upstream's x509 authenticator fails the request instead of treating it as anonymous.
  if (!sock.authorized) return 'invalid';
  const root = trust ? rootOf(cert as DetailedPeerCertificate).fingerprint256 : '';
  const fromClientCA = !trust || trust.client.has(root);
  const fromRequestHeaderCA = !!trust && trust.requestHeader.has(root);
  const identity: VerifiedCertificate = {};
  const u = fromClientCA ? userFromSubject(cert.subject) : undefined;
  if (u)
    identity.user = {
      name: u.name,
      groups: u.groups.includes(AUTHENTICATED_GROUP) ? u.groups : [...u.groups, AUTHENTICATED_GROUP],
    };
  if (fromRequestHeaderCA) {
    const cn: string | string[] | undefined = cert.subject?.CN;
    identity.proxy = { commonName: (Array.isArray(cn) ? cn[0] : cn) ?? '' };
  }
  return identity.user || identity.proxy ? identity : 'invalid';
}
