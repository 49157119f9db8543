// The key pair service-account tokens are signed with (kube-apiserver's
// --service-account-signing-key-file / --service-account-key-file, in one PEM file here).
// A new key is an ECDSA P-256 key (ES256); an RSA key found in the file is used as RS256. The
// `kid` header of every token is derived from the public key as upstream does it: the SHA-256
// of the DER-encoded SubjectPublicKeyInfo, base64url without padding.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type SigningAlgorithm = 'ES256' | 'RS256';

export interface ServiceAccountKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  alg: SigningAlgorithm;
  kid: string;
}

/** Upstream's key id: base64url(sha256(DER SubjectPublicKeyInfo)). */
export function keyIDOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url');
}

function algorithmOf(key: KeyObject): SigningAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(
    `unsupported service-account key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}: want RSA or ECDSA P-256`,
  );
}

/** Keys from a PEM private key (PKCS#8, PKCS#1 or SEC1). */
export function keysFromPem(pem: string | Buffer): ServiceAccountKeys {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, alg: algorithmOf(privateKey), kid: keyIDOf(publicKey) };
}

/** A fresh ES256 key pair. */
export function generateKeys(): ServiceAccountKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, alg: 'ES256', kid: keyIDOf(publicKey) };
}

/** Reads the signing key at `path`, or creates one there (mode 0600) on first start. */
export function loadOrCreateServiceAccountKeys(path: string): ServiceAccountKeys {
  if (existsSync(path)) return keysFromPem(readFileSync(path));
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const keys = generateKeys();
  writeFileSync(path, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return keys;
}
