// Sprig's key and symmetric-encryption functions that node:crypto can do synchronously:
// genPrivateKey (PEM as Go's pem.EncodeToMemory writes it) and encryptAES/decryptAES
// (AES-256-CBC, zero-padded password as key, random IV prepended, PKCS#7 padding, base64).
// Certificate generation (genCA, genSelfSignedCert, ...) and bcrypt are not provided.
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { FuncDef } from '../template/exec.js';

function genPrivateKey(typ: string): string {
  switch (typ) {
    case '':
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 4096 })
        .privateKey.export({ type: 'pkcs1', format: 'pem' })
        .toString();
    case 'ecdsa':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'sec1', format: 'pem' })
        .toString();
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    case 'dsa':
      return 'failed to generate dsa params: not supported';
  }
  return 'Unknown type ' + typ;
}

function aesKey(password: string): Buffer {
  const key = Buffer.alloc(32);
  Buffer.from(password, 'utf8').copy(key, 0, 0, 32);
  return key;
}

function encryptAES(password: string, plaintext: string): string {
  if (plaintext === '') return '';
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', aesKey(password), iv);
  return Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

function decryptAES(password: string, crypt64: string): string {
  if (crypt64 === '') return '';
  const crypt = Buffer.from(crypt64, 'base64');
  if (crypt.length < 16) throw new Error('ciphertext too short');
  const decipher = createDecipheriv('aes-256-cbc', aesKey(password), crypt.subarray(0, 16));
  return Buffer.concat([decipher.update(crypt.subarray(16)), decipher.final()]).toString('utf8');
}

export const cryptoFuncs: Record<string, FuncDef> = {
  genPrivateKey: { fn: genPrivateKey as FuncDef['fn'], params: ['string'] },
  encryptAES: { fn: encryptAES as FuncDef['fn'], params: ['string', 'string'] },
  decryptAES: { fn: decryptAES as FuncDef['fn'], params: ['string', 'string'] },
};
