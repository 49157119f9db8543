// The secretbox provider: XSalsa20-Poly1305 (NaCl secretbox) with a 32-byte key, stored as
// `k8s:enc:secretbox:v1:<key name>:` + 24-byte random nonce + sealed box (16-byte Poly1305 tag,
// then the ciphertext), as upstream's secretboxTransformer writes it. No additional data: a
// secretbox value copied to another key still opens, as upstream.
//
// Node's crypto has no XSalsa20, so this uses tweetnacl (pure JS). It is loaded on the first
// secretbox key only, so servers whose configuration names no secretbox provider never load it;
// the load is synchronous (createRequire) because configurations are read synchronously.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { DecryptError, checkKeySize, prefixOf, type KeyedCipher } from './providers.js';

/** The part of tweetnacl this provider uses. */
interface SecretboxApi {
  (msg: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  open(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
  nonceLength: number;
  overheadLength: number;
}

let loaded: SecretboxApi | undefined;

function nacl(): SecretboxApi {
  loaded ??= (createRequire(import.meta.url)('tweetnacl') as { secretbox: SecretboxApi }).secretbox;
  return loaded;
}

const NONCE = 24;
const OVERHEAD = 16;

export function secretbox(keyName: string, key: Buffer): KeyedCipher {
  checkKeySize('secretbox', keyName, key);
  const box = nacl();
  const keyBytes = new Uint8Array(key);
  return {
    kind: 'secretbox',
    keyName,
    prefix: prefixOf('secretbox', keyName),
    seal(plaintext) {
      const nonce = randomBytes(NONCE);
      return Buffer.concat([nonce, box(new Uint8Array(plaintext), new Uint8Array(nonce), keyBytes)]);
    },
    open(sealed) {
      if (sealed.length < NONCE + OVERHEAD)
        throw new DecryptError('the stored data was shorter than the required size');
      const opened = box.open(
        new Uint8Array(sealed.subarray(NONCE)),
        new Uint8Array(sealed.subarray(0, NONCE)),
        keyBytes,
      );
      // Upstream's (misleading) text for a box that does not open under this key.
      if (!opened)
        throw new DecryptError(`secretbox key "${keyName}": output array was not large enough for encryption`);
      return Buffer.from(opened);
    },
  };
}
