/**
 * Build-time generator: reads the .d.ts files of the installed `kubernetes-types` package and
 * writes dist/openapi/definitions.json, OpenAPI v2 definitions keyed by upstream definition
 * names (io.k8s.api.core.v1.Pod, ...).
 *
 * kubernetes-types is itself generated from upstream's swagger, so interfaces, JSDoc and
 * optionality carry the upstream facts; what it loses (integer widths, patch metadata, the
 * IntOrString type, which it inlines as `number | string`) is restored from the hand-kept
 * tables in src/machinery/openapi/{formats,patchmeta}.ts.
 *
 * Only the syntax tree is read (no type checker): every type used in kubernetes-types is a
 * keyword, a literal, an array, an index-signature object or a named reference.
 */
import ts from 'typescript';
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PATCH_META, type FieldPatchMeta } from '../src/machinery/openapi/patchmeta.js';
import { NUMBER_FORMATS } from '../src/machinery/openapi/formats.js';

type Schema = { [key: string]: unknown };

const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const INT_OR_STRING_DESCRIPTION =
  'IntOrString is a type that can hold an int32 or a string. When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type. This allows you to have, for example, a JSON field that can accept a name or number.';

/** Upstream Go package of each kubernetes-types module (path without .d.ts). */
function upstreamPackage(modulePath: string): string {
  switch (modulePath) {
    case 'meta/v1':
      return 'io.k8s.apimachinery.pkg.apis.meta.v1';
    case 'api/resource':
      return 'io.k8s.apimachinery.pkg.api.resource';
    case 'runtime':
      return 'io.k8s.apimachinery.pkg.runtime';
    case 'version':
      return 'io.k8s.apimachinery.pkg.version';
    case 'apiextensions/v1':
      return 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1';
    default: {
      // <group>/<version>, e.g. apps/v1 -> io.k8s.api.apps.v1
      const parts = modulePath.split('/');
      if (parts.length !== 2) throw new Error(`unexpected kubernetes-types module ${modulePath}`);
      return `io.k8s.api.${parts[0]}.${parts[1]}`;
    }
  }
}

/** Aliases that upstream publishes as string definitions of their own. */
const STRING_ALIASES: Readonly<Record<string, Schema>> = {
  Quantity: { type: 'string' },
  Time: { type: 'string', format: 'date-time' },
  MicroTime: { type: 'string', format: 'date-time' },
};

function listDts(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listDts(full));
    else if (entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out.sort();
}

function jsDocText(node: ts.Node): string | undefined {
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  const last = docs[docs.length - 1];
  if (!last) return undefined;
  const text = ts.getTextOfJSDocComment(last.comment);
  return text ? text.trim() : undefined;
}

function propertyName(name: ts.PropertyName): string {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  throw new Error(`unsupported property name ${name.getText()}`);
}

interface ModuleContext {
  /** Upstream package of this module. */
  pkg: string;
  /** Imported identifier -> upstream package of the module it comes from. */
  imports: Map<string, string>;
  /** Names declared in this module. */
  local: Set<string>;
}

class Generator {
  readonly definitions: Record<string, Schema> = {};
  private readonly warnings: string[] = [];

  constructor(private readonly root: string) {}

  run(): { definitions: Record<string, Schema>; warnings: string[] } {
    for (const file of listDts(this.root)) this.readModule(file);
    this.definitions[INT_OR_STRING] = {
      description: INT_OR_STRING_DESCRIPTION,
      type: 'string',
      format: 'int-or-string',
    };
    this.checkTables();
    return { definitions: sortKeys(this.definitions), warnings: this.warnings };
  }

  private readModule(file: string): void {
    const modulePath = relative(this.root, file)
      .replace(/\\/g, '/')
      .replace(/\.d\.ts$/, '');
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const ctx: ModuleContext = { pkg: upstreamPackage(modulePath), imports: new Map(), local: new Set() };
    for (const stmt of source.statements) {
      if (ts.isImportDeclaration(stmt) && ts.isStringLiteral(stmt.moduleSpecifier)) {
        const target = join(dirname(modulePath), stmt.moduleSpecifier.text).replace(/\\/g, '/');
        const bindings = stmt.importClause?.namedBindings;
        if (bindings && ts.isNamedImports(bindings)) {
          for (const el of bindings.elements) ctx.imports.set(el.name.text, upstreamPackage(target));
        }
      } else if (ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt)) {
        ctx.local.add(stmt.name.text);
      }
    }
    for (const stmt of source.statements) {
      if (ts.isInterfaceDeclaration(stmt)) this.readInterface(stmt, ctx);
      else if (ts.isTypeAliasDeclaration(stmt)) this.readAlias(stmt, ctx);
    }
  }

  private readInterface(decl: ts.InterfaceDeclaration, ctx: ModuleContext): void {
    const name = `${ctx.pkg}.${decl.name.text}`;
    const def: Schema = {};
    const description = jsDocText(decl);
    if (description) def.description = description;
    def.type = 'object';
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    const literals: Record<string, string> = {};
    const meta = PATCH_META[name];
    const formats = NUMBER_FORMATS[name] ?? {};
    for (const member of decl.members) {
      if (!ts.isPropertySignature(member) || !member.type) continue;
      const prop = propertyName(member.name);
      if (ts.isLiteralTypeNode(member.type) && ts.isStringLiteral(member.type.literal)) {
        literals[prop] = member.type.literal.text;
      }
      const schema = this.typeSchema(member.type, ctx, formats[prop]);
      const doc = jsDocText(member);
      // Upstream puts the description first; keep that order for readable output.
      const withDoc: Schema = doc ? { description: doc, ...schema } : schema;
      const fieldMeta = meta?.fields?.[prop];
      if (fieldMeta) Object.assign(withDoc, extensionsOf(fieldMeta));
      properties[prop] = withDoc;
      if (!member.questionToken) required.push(prop);
    }
    if (Object.keys(properties).length > 0) def.properties = properties;
    if (required.length > 0) def.required = required.sort();
    // Top-level kinds are the interfaces whose apiVersion and kind are fixed literals.
    const apiVersion = literals.apiVersion;
    const kind = literals.kind;
    if (apiVersion !== undefined && kind !== undefined) {
      const slash = apiVersion.indexOf('/');
      const group = slash < 0 ? '' : apiVersion.slice(0, slash);
      const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
      def['x-kubernetes-group-version-kind'] = [{ group, kind, version }];
    }
    if (meta?.mapType) def['x-kubernetes-map-type'] = meta.mapType;
    this.definitions[name] = def;
  }

  private readAlias(decl: ts.TypeAliasDeclaration, ctx: ModuleContext): void {
    const name = `${ctx.pkg}.${decl.name.text}`;
    const description = jsDocText(decl);
    const def: Schema = description ? { description } : {};
    const fixed = STRING_ALIASES[decl.name.text];
    // JSONSchemaPropsOr* unions are published with a description only (any JSON shape).
    if (fixed) Object.assign(def, fixed);
    this.definitions[name] = def;
  }

  private refTo(typeName: string, ctx: ModuleContext): Schema {
    const pkg = ctx.local.has(typeName) ? ctx.pkg : ctx.imports.get(typeName);
    if (!pkg) throw new Error(`cannot resolve type ${typeName} in ${ctx.pkg}`);
    return { $ref: `#/definitions/${pkg}.${typeName}` };
  }

  private typeSchema(node: ts.TypeNode, ctx: ModuleContext, numberFormat: string | undefined): Schema {
    switch (node.kind) {
      case ts.SyntaxKind.StringKeyword:
        return { type: 'string' };
      case ts.SyntaxKind.BooleanKeyword:
        return { type: 'boolean' };
      case ts.SyntaxKind.NumberKeyword:
        // Kubernetes numbers are integers (int32 unless listed) except a few float64 fields.
        if (numberFormat === 'double') return { type: 'number', format: 'double' };
        return { type: 'integer', format: numberFormat ?? 'int32' };
      case ts.SyntaxKind.AnyKeyword:
      case ts.SyntaxKind.UnknownKeyword:
        return {};
    }
    if (ts.isLiteralTypeNode(node)) {
      if (ts.isStringLiteral(node.literal)) return { type: 'string' };
      if (node.literal.kind === ts.SyntaxKind.TrueKeyword || node.literal.kind === ts.SyntaxKind.FalseKeyword) {
        return { type: 'boolean' };
      }
    }
    if (ts.isParenthesizedTypeNode(node)) return this.typeSchema(node.type, ctx, numberFormat);
    if (ts.isArrayTypeNode(node)) {
      return { type: 'array', items: this.typeSchema(node.elementType, ctx, numberFormat) };
    }
    if (ts.isUnionTypeNode(node)) {
      const kinds = node.types.map((t) => t.kind).sort();
      // kubernetes-types inlines IntOrString as `number | string`.
      if (
        kinds.length === 2 &&
        kinds.includes(ts.SyntaxKind.NumberKeyword) &&
        kinds.includes(ts.SyntaxKind.StringKeyword)
      ) {
        return { $ref: `#/definitions/${INT_OR_STRING}` };
      }
      throw new Error(`unsupported union type ${node.getText()} in ${ctx.pkg}`);
    }
    if (ts.isTypeLiteralNode(node)) {
      const index = node.members.find(ts.isIndexSignatureDeclaration);
      if (index && node.members.length === 1) {
        return { type: 'object', additionalProperties: this.typeSchema(index.type, ctx, numberFormat) };
      }
      throw new Error(`unsupported object literal type ${node.getText()} in ${ctx.pkg}`);
    }
    if (ts.isTypeReferenceNode(node)) {
      const typeName = node.typeName.getText();
      if (typeName === 'Array' && node.typeArguments?.length === 1) {
        return { type: 'array', items: this.typeSchema(node.typeArguments[0], ctx, numberFormat) };
      }
      return this.refTo(typeName, ctx);
    }
    throw new Error(`unsupported type ${node.getText()} in ${ctx.pkg}`);
  }

  /** Every table entry must name a definition/property we produced; a miss means a typo or drift. */
  private checkTables(): void {
    for (const [defName, meta] of Object.entries(PATCH_META)) {
      const def = this.definitions[defName];
      if (!def) {
        this.warnings.push(`patchmeta: no definition ${defName}`);
        continue;
      }
      const props = (def.properties ?? {}) as Record<string, Schema>;
      for (const field of Object.keys(meta.fields ?? {})) {
        if (!props[field]) this.warnings.push(`patchmeta: no property ${defName}.${field}`);
      }
    }
    for (const [defName, fields] of Object.entries(NUMBER_FORMATS)) {
      const props = (this.definitions[defName]?.properties ?? {}) as Record<string, Schema>;
      for (const field of Object.keys(fields)) {
        if (!props[field]) this.warnings.push(`formats: no property ${defName}.${field}`);
      }
    }
  }
}

function extensionsOf(meta: FieldPatchMeta): Schema {
  const ext: Schema = {};
  if (meta.listMapKeys) ext['x-kubernetes-list-map-keys'] = [...meta.listMapKeys];
  if (meta.listType) ext['x-kubernetes-list-type'] = meta.listType;
  if (meta.mapType) ext['x-kubernetes-map-type'] = meta.mapType;
  if (meta.patchMergeKey) ext['x-kubernetes-patch-merge-key'] = meta.patchMergeKey;
  if (meta.patchStrategy) ext['x-kubernetes-patch-strategy'] = meta.patchStrategy;
  return ext;
}

function sortKeys<T>(obj: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(obj).sort()) out[key] = obj[key]!;
  return out;
}

const JSON_SCHEMA_PROPS = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps';

/**
 * kubernetes-types leaves out JSONSchemaProps' `x-kubernetes-*` fields (their names aren't
 * identifiers), but CRDs use them: without them here they would be pruned as unknown fields.
 */
function addSchemaExtensions(definitions: Record<string, Schema>): void {
  const props = definitions[JSON_SCHEMA_PROPS]?.properties as Record<string, Schema> | undefined;
  if (!props) return;
  const bool = (description: string): Schema => ({ type: 'boolean', description });
  props['x-kubernetes-embedded-resource'] = bool(
    'The value is a whole Kubernetes object (apiVersion, kind, metadata).',
  );
  props['x-kubernetes-int-or-string'] = bool('The value may be an integer or a string.');
  props['x-kubernetes-preserve-unknown-fields'] = bool('Fields not in the schema are kept instead of pruned.');
  props['x-kubernetes-list-map-keys'] = {
    type: 'array',
    items: { type: 'string', default: '' },
    description: 'Keys identifying the items of a list of type map.',
    'x-kubernetes-list-type': 'atomic',
  };
  props['x-kubernetes-list-type'] = { type: 'string', description: 'How a list merges: atomic, set or map.' };
  props['x-kubernetes-map-type'] = { type: 'string', description: 'How a map merges: granular or atomic.' };
  const rule = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ValidationRule';
  props['x-kubernetes-validations'] = {
    type: 'array',
    items: definitions[rule] ? { $ref: `#/definitions/${rule}` } : { type: 'object' },
    description: 'CEL validation rules for this value.',
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['rule'],
    'x-kubernetes-patch-merge-key': 'rule',
    'x-kubernetes-patch-strategy': 'merge',
  };
}

/**
 * kubernetes-types lacks two fields of the admission rules (webhook `rules`, policy
 * `resourceRules`): resources and scope. Without them the field schema would prune them.
 */
function addAdmissionRuleFields(definitions: Record<string, { properties?: Record<string, unknown> }>): void {
  const resources = {
    description: "Resources is a list of resources this rule applies to ('pods', 'pods/log', '*', '*/scale').",
    type: 'array',
    items: { type: 'string', default: '' },
    'x-kubernetes-list-type': 'atomic',
  };
  const scope = {
    description: 'Scope specifies the scope of this rule: "Cluster", "Namespaced" or "*" (the default).',
    type: 'string',
  };
  for (const v of ['v1', 'v1beta1', 'v1alpha1']) {
    for (const kind of ['RuleWithOperations', 'NamedRuleWithOperations']) {
      const def = definitions[`io.k8s.api.admissionregistration.${v}.${kind}`];
      if (!def?.properties) continue;
      def.properties.resources ??= resources;
      def.properties.scope ??= scope;
    }
  }
}

function main(): void {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('kubernetes-types/package.json'));
  const { definitions, warnings } = new Generator(root).run();
  addSchemaExtensions(definitions);
  addAdmissionRuleFields(definitions);
  for (const w of warnings) process.stderr.write(`gen-openapi: warning: ${w}\n`);
  // dist/tools/gen-openapi.js -> dist/openapi/definitions.json
  const outFile = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'openapi', 'definitions.json');
  mkdirSync(dirname(outFile), { recursive: true });
  const json = JSON.stringify(definitions);
  writeFileSync(outFile, json);
  process.stdout.write(
    `gen-openapi: wrote ${Object.keys(definitions).length} definitions (${json.length} bytes) to ${outFile}\n`,
  );
}

main();
