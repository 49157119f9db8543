// @peculiar/x509 (with the reflect-metadata it needs), loaded on first use: only the code that
// parses certificate requests or certificates needs it, and loading it costs a fifth of a second
// of CPU that a process starting a cluster would otherwise pay up front.
import { webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as X509 from '@peculiar/x509';

let lib: typeof X509 | undefined;

export function x509(): typeof X509 {
  if (!lib) {
    const load = createRequire(import.meta.url);
    load('reflect-metadata');
    lib = load('@peculiar/x509') as typeof X509;
    lib.cryptoProvider.set(webcrypto as unknown as Parameters<typeof lib.cryptoProvider.set>[0]);
  }
  return lib;
}
