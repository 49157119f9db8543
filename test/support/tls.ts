// Test objects for TLS: a kubernetes.io/tls Secret holding a certificate and key in PEM.

/** A `kubernetes.io/tls` Secret (in the namespace the object is applied to) with this pair. */
export function tlsSecret(name: string, pair: { cert: string; key: string }, namespace?: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, ...(namespace ? { namespace } : {}) },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(pair.cert).toString('base64'),
      'tls.key': Buffer.from(pair.key).toString('base64'),
    },
  };
}
