// The value transformer of one resource: its ordered ciphers (providers in order, each one's keys
// in order). The first encrypts every write; a read picks the cipher the stored prefix names, so
// values written under an older key (or before encryption, with identity listed) stay readable.
import { DecryptError, ENCRYPTED_PREFIX, type KeyedCipher } from './providers.js';

export interface ReadValue {
  value: string;
  /** Which cipher read it ('identity' for plain text). */
  cipher: KeyedCipher;
  /** Not written with the current first cipher: a re-encryption would rewrite it. */
  stale: boolean;
}

export class ValueTransformer {
  constructor(readonly ciphers: readonly KeyedCipher[]) {
    if (!ciphers.length) throw new Error('a resource needs at least one encryption provider');
  }

  /** The cipher every write uses. */
  get writer(): KeyedCipher {
    return this.ciphers[0];
  }

  toStorage(key: string, plaintext: string): string {
    const w = this.writer;
    if (w.kind === 'identity') return plaintext;
    return w.prefix + w.seal(Buffer.from(plaintext), Buffer.from(key)).toString('base64');
  }

  read(key: string, stored: string): ReadValue {
    try {
      const cipher = this.cipherFor(stored);
      const stale = cipher !== this.writer;
      if (cipher.kind === 'identity') return { value: stored, cipher, stale };
      const sealed = Buffer.from(stored.slice(cipher.prefix.length), 'base64');
      return { value: cipher.open(sealed, Buffer.from(key)).toString(), cipher, stale };
    } catch (err) {
      // Name the object: the error reaches logs and clients far from here.
      if (err instanceof DecryptError) throw new DecryptError(`${key}: ${err.message}`);
      throw err;
    }
  }

  fromStorage(key: string, stored: string): string {
    return this.read(key, stored).value;
  }

  private cipherFor(stored: string): KeyedCipher {
    const encrypted = stored.startsWith(ENCRYPTED_PREFIX);
    for (const c of this.ciphers) {
      if (c.kind === 'identity' ? !encrypted : stored.startsWith(c.prefix)) return c;
    }
    if (!encrypted)
      throw new DecryptError(
        `${stored.length ? 'unencrypted' : 'empty'} value, and no identity provider is configured`,
      );
    const named = stored.slice(0, stored.indexOf(':', stored.indexOf(':v1:') + 4) + 1);
    throw new DecryptError(`no provider in the encryption configuration reads values stored as "${named}"`);
  }
}
