// The envelope formats of upstream's at-rest encryption (k8s.io/apiserver storage/value/encrypt):
// a stored value is `k8s:enc:<provider>:v1:<key name>:` followed by the provider's ciphertext.
//   aescbc: 16-byte IV + AES-CBC ciphertext (PKCS#7 padding; unauthenticated, as upstream).
//   aesgcm: 12-byte random nonce + ciphertext + 16-byte tag; the storage key is the
//           additional authenticated data, so a value copied to another key fails to decrypt.
//   secretbox: 24-byte nonce + XSalsa20-Poly1305 box (secretbox.ts).
// k8ts's backends store text, so the ciphertext after the prefix is base64 (upstream: raw bytes).
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto';

export type ProviderKind = 'aescbc' | 'aesgcm' | 'secretbox' | 'identity';

/** One named key of one provider: the unit that encrypts and that a stored prefix names. */
export interface KeyedCipher {
  readonly kind: ProviderKind;
  readonly keyName: string;
  /** `k8s:enc:<kind>:v1:<keyName>:` (identity: empty, it matches anything not encrypted). */
  readonly prefix: string;
  seal(plaintext: Buffer, authenticatedData: Buffer): Buffer;
  open(sealed: Buffer, authenticatedData: Buffer): Buffer;
}

export class DecryptError extends Error {}

export const ENCRYPTED_PREFIX = 'k8s:enc:';

export function prefixOf(kind: ProviderKind, keyName: string): string {
  return kind === 'identity' ? '' : `${ENCRYPTED_PREFIX}${kind}:v1:${keyName}:`;
}

const KEY_SIZES: Record<Exclude<ProviderKind, 'identity'>, number[]> = {
  aescbc: [32],
  aesgcm: [16, 24, 32],
  secretbox: [32],
};

export function checkKeySize(kind: Exclude<ProviderKind, 'identity'>, name: string, key: Buffer): void {
  const sizes = KEY_SIZES[kind];
  if (!sizes.includes(key.length))
    throw new Error(`${kind} key "${name}": ${key.length} bytes, must be ${sizes.join(', ')} bytes (base64-encoded)`);
}

const AES_BLOCK = 16;

function aesAlgorithm(mode: 'cbc' | 'gcm', key: Buffer): string {
  return `aes-${key.length * 8}-${mode}`;
}

export function aescbc(keyName: string, key: Buffer): KeyedCipher {
  checkKeySize('aescbc', keyName, key);
  const algorithm = aesAlgorithm('cbc', key);
  return {
    kind: 'aescbc',
    keyName,
    prefix: prefixOf('aescbc', keyName),
    seal(plaintext) {
      const iv = randomBytes(AES_BLOCK);
      const cipher = createCipheriv(algorithm, key, iv); // PKCS#7 padding is Node's default
      return Buffer.concat([iv, cipher.update(plaintext), cipher.final()]);
    },
    open(sealed) {
      if (sealed.length < 2 * AES_BLOCK) throw new DecryptError('the stored data was shorter than the required size');
      if (sealed.length % AES_BLOCK) throw new DecryptError('the stored data is not a multiple of the block size');
      const decipher = createDecipheriv(algorithm, key, sealed.subarray(0, AES_BLOCK));
      try {
        return Buffer.concat([decipher.update(sealed.subarray(AES_BLOCK)), decipher.final()]);
      } catch {
        throw new DecryptError(`aescbc key "${keyName}": invalid PKCS7 data (empty or not padded)`);
      }
    },
  };
}

const GCM_NONCE = 12;
const GCM_TAG = 16;

export function aesgcm(keyName: string, key: Buffer): KeyedCipher {
  checkKeySize('aesgcm', keyName, key);
  const algorithm = aesAlgorithm('gcm', key) as CipherGCMTypes;
  return {
    kind: 'aesgcm',
    keyName,
    prefix: prefixOf('aesgcm', keyName),
    seal(plaintext, authenticatedData) {
      const nonce = randomBytes(GCM_NONCE);
      const cipher = createCipheriv(algorithm, key, nonce, { authTagLength: GCM_TAG });
      cipher.setAAD(authenticatedData);
      return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    },
    open(sealed, authenticatedData) {
      if (sealed.length < GCM_NONCE + GCM_TAG)
        throw new DecryptError('the stored data was shorter than the required size');
      const decipher = createDecipheriv(algorithm, key, sealed.subarray(0, GCM_NONCE), { authTagLength: GCM_TAG });
      decipher.setAAD(authenticatedData);
      decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG));
      try {
        return Buffer.concat([decipher.update(sealed.subarray(GCM_NONCE, sealed.length - GCM_TAG)), decipher.final()]);
      } catch {
        throw new DecryptError(`aesgcm key "${keyName}": cipher: message authentication failed`);
      }
    },
  };
}

export const identity: KeyedCipher = {
  kind: 'identity',
  keyName: '',
  prefix: '',
  seal: (plaintext) => plaintext,
  open: (sealed) => sealed,
};
