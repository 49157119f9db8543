// apiserver.config.k8s.io/v1 EncryptionConfiguration (kube-apiserver --encryption-provider-config),
// and k3s's default: an aescbc key generated into the data dir for Secrets, identity second so
// values written before encryption was on stay readable.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { aescbc, aesgcm, identity, type KeyedCipher } from './providers.js';
import { secretbox } from './secretbox.js';
import { ValueTransformer } from './transformer.js';

export interface KeyConfig {
  name: string;
  /** base64 */
  secret: string;
}

export interface ProviderConfig {
  aescbc?: { keys: KeyConfig[] };
  aesgcm?: { keys: KeyConfig[] };
  secretbox?: { keys: KeyConfig[] };
  identity?: Record<string, never>;
  kms?: unknown;
}

export interface ResourceConfig {
  resources: string[];
  providers: ProviderConfig[];
}

export interface EncryptionConfiguration {
  apiVersion: string;
  kind: string;
  resources: ResourceConfig[];
}

const KEYED = { aescbc, aesgcm, secretbox } as const;

function ciphersOf(p: ProviderConfig, where: string): KeyedCipher[] {
  const kinds = Object.keys(p).filter((k) => (p as Record<string, unknown>)[k] !== undefined);
  if (kinds.length !== 1)
    throw new Error(`${where}: exactly one provider type per entry (got ${kinds.join(', ') || 'none'})`);
  const kind = kinds[0];
  if (kind === 'identity') return [identity];
  if (kind === 'aescbc' || kind === 'aesgcm' || kind === 'secretbox') {
    const keys = p[kind]?.keys ?? [];
    if (!keys.length) throw new Error(`${where}.${kind}.keys: at least one key is required`);
    const names = new Set<string>();
    return keys.map((k, i) => {
      if (!k?.name) throw new Error(`${where}.${kind}.keys[${i}].name: required`);
      if (names.has(k.name)) throw new Error(`${where}.${kind}.keys[${i}].name: duplicate key name "${k.name}"`);
      names.add(k.name);
      return KEYED[kind](k.name, Buffer.from(k.secret ?? '', 'base64'));
    });
  }
  throw new Error(`${where}: provider "${kind}" is not supported by k8ts (aescbc, aesgcm, secretbox and identity are)`);
}

/** `secrets`, `deployments.apps`, `*.apps`, `*.` (every core resource), `*.*` (every resource). */
function matches(pattern: string, group: string, resource: string): boolean {
  const dot = pattern.indexOf('.');
  const [res, grp] = dot < 0 ? [pattern, ''] : [pattern.slice(0, dot), pattern.slice(dot + 1)];
  return (res === '*' || res === resource) && (grp === '*' || grp === group);
}

export class EncryptionConfig {
  private readonly entries: { patterns: string[]; transformer: ValueTransformer }[];

  constructor(readonly config: EncryptionConfiguration) {
    if (config.kind !== 'EncryptionConfiguration' || config.apiVersion !== 'apiserver.config.k8s.io/v1')
      throw new Error(
        `encryption configuration: kind ${config.kind} ${config.apiVersion}, want EncryptionConfiguration apiserver.config.k8s.io/v1`,
      );
    this.entries = (config.resources ?? []).map((r, i) => {
      if (!r.resources?.length) throw new Error(`resources[${i}].resources: at least one resource is required`);
      if (!r.providers?.length) throw new Error(`resources[${i}].providers: at least one provider is required`);
      return {
        patterns: r.resources,
        transformer: new ValueTransformer(
          r.providers.flatMap((p, j) => ciphersOf(p, `resources[${i}].providers[${j}]`)),
        ),
      };
    });
  }

  /** The transformer of a resource (the first entry naming it wins, as upstream); undefined: stored as is. */
  transformerFor(group: string, resource: string): ValueTransformer | undefined {
    return this.entries.find((e) => e.patterns.some((p) => matches(p, group, resource)))?.transformer;
  }

  static load(file: string): EncryptionConfig {
    return new EncryptionConfig(parseYaml(readFileSync(file, 'utf8')) as EncryptionConfiguration);
  }
}

/** Where k3s keeps its generated configuration (k8ts: DATA/server/cred/encryption-config.json). */
export const defaultEncryptionConfigPath = (dataDir: string) =>
  join(dataDir, 'server', 'cred', 'encryption-config.json');

export function newKey(): string {
  return randomBytes(32).toString('base64');
}

export function writeEncryptionConfig(file: string, config: EncryptionConfiguration): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Written whole then renamed would be safer against a crash; the keys are what matters here,
  // and the file is small. Mode 0600: it holds the keys.
  writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
}

/** k3s's default: Secrets encrypted with one generated aescbc key, identity for older values. */
export function loadOrCreateDefaultConfig(dataDir: string): { file: string; config: EncryptionConfig } {
  const file = defaultEncryptionConfigPath(dataDir);
  if (!existsSync(file)) {
    writeEncryptionConfig(file, {
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'EncryptionConfiguration',
      resources: [
        {
          resources: ['secrets'],
          providers: [{ aescbc: { keys: [{ name: 'aescbckey', secret: newKey() }] } }, { identity: {} }],
        },
      ],
    });
  }
  return { file, config: EncryptionConfig.load(file) };
}
