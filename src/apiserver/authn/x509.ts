// Client certificates: the TLS layer verified the chain to the cluster CA (requestCert with
// rejectUnauthorized off), this names the user: CN the user, O the groups (upstream's
// CommonNameUserConversion).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { userFromSubject } from '../../machinery/pki.js';
import { connectionOf } from '../transport.js';
import { AUTHENTICATED_GROUP, type UserInfo } from './types.js';

/**
 * A connection's client certificate: the user it names (with system:authenticated; shared by
 * the connection's requests, so copied before use), one that failed verification, or none.
 */
export type CertificateIdentity = UserInfo | 'invalid' | 'none';

/** Decoded once per connection: its certificate can't change (renegotiation is off). */
const identities = new WeakMap<object, CertificateIdentity>();

export function certificateIdentity(req: IncomingMessage): CertificateIdentity {
  // For HTTP/2, req.socket stands in for the session's TLS socket.
  const sock = req.socket as TLSSocket;
  const connection = connectionOf(req);
  let identity = identities.get(connection);
  if (identity === undefined) {
    identity = identify(sock);
    identities.set(connection, identity);
  }
  return identity;
}

function identify(sock: TLSSocket): CertificateIdentity {
  // getPeerCertificate() decodes the whole certificate (10% of the CPU of a small request): once.
  const cert = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : undefined;
  const presented = !!cert && Object.keys(cert).length > 0;
  if (!presented) return 'none';
  // A certificate that does not chain to the CA (or has expired) authenticates nobody: upstream's
  // x509 authenticator fails the request instead of treating it as anonymous.
  if (!sock.authorized) return 'invalid';
  const u = userFromSubject(cert.subject);
  if (!u) return 'invalid';
  return {
    name: u.name,
    groups: u.groups.includes(AUTHENTICATED_GROUP) ? u.groups : [...u.groups, AUTHENTICATED_GROUP],
  };
}
