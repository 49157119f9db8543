// Generates src/machinery/protobuf/wiretable.ts: the field table of Kubernetes' protobuf wire
// format (message -> fields with JSON name, number, type, presence) for the built-in API groups.
//
// It reads local checkouts of kubernetes/api, kubernetes/apimachinery,
// kubernetes/apiextensions-apiserver, kubernetes/kube-aggregator (APIService) and
// kubernetes/metrics (metrics-server's NodeMetrics and PodMetrics): the generated.proto files give field numbers and wire types;
// the Go types give what the .proto cannot: the JSON name, whether a field is a pointer (written
// only when set, so a present zero survives) and whether JSON omits it when empty.
// Run by hand when the API changes; never in CI or the build. The committed table is the artifact.
//
//   node dist/src/tools/gen-protobuf-table.js API_DIR APIMACHINERY_DIR APIEXTENSIONS_DIR AGGREGATOR_DIR METRICS_DIR
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { SOURCES, isTypeSource, packageOf, shortName } from './upstream-api.js';

interface GoField {
  json: string;
  pointer: boolean;
  omitempty: boolean;
  omitzero: boolean;
  inline: boolean;
  order: number;
}

/** Struct fields with a protobuf tag, per struct, from a package's Go sources. */
function goStructs(dir: string): { structs: Map<string, Map<string, GoField>>; sliceTypes: Set<string> } {
  const structs = new Map<string, Map<string, GoField>>();
  const sliceTypes = new Set<string>();
  for (const file of readdirSync(dir)) {
    if (!isTypeSource(file)) continue;
    let current: Map<string, GoField> | undefined;
    let order = 0;
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const slice = /^type (\w+) \[\]/.exec(line);
      if (slice) sliceTypes.add(slice[1]);
      const start = /^type (\w+) struct \{/.exec(line);
      if (start) {
        current = new Map();
        structs.set(start[1], current);
        order = 0;
        continue;
      }
      if (line.startsWith('}')) current = undefined;
      if (!current || /^\s*\/\//.test(line)) continue;
      const m = /^\s+(?:(\w+)\s+)?(\S+)\s+`([^`]*)`/.exec(line);
      if (!m) continue;
      const tags = m[3];
      const proto = /protobuf:"([^"]*)"/.exec(tags);
      if (!proto) continue;
      // Embedded structs may lack name=: go-to-protobuf then names the field after the type.
      const goName = m[1] ?? m[2].replace(/^\*/, '').split('.').pop()!;
      const protoName = /(?:^|,)name=(\w+)/.exec(proto[1])?.[1] ?? goName[0].toLowerCase() + goName.slice(1);
      const json = /json:"([^"]*)"/.exec(tags)?.[1] ?? '';
      const [jsonName, ...opts] = json.split(',');
      current.set(protoName, {
        json: jsonName || protoName,
        pointer: m[2].startsWith('*'),
        omitempty: opts.includes('omitempty'),
        omitzero: opts.includes('omitzero'),
        inline: !jsonName && (opts.includes('inline') || m[1] === undefined),
        order: order++,
      });
    }
  }
  return { structs, sliceTypes };
}

function main(): void {
  const roots = process.argv.slice(2);
  if (roots.length !== 5 || !roots.every((r) => existsSync(r))) {
    console.error('usage: gen-protobuf-table API_DIR APIMACHINERY_DIR APIEXTENSIONS_DIR AGGREGATOR_DIR METRICS_DIR');
    process.exit(2);
  }
  const root = new protobuf.Root();
  const go = new Map<string, ReturnType<typeof goStructs>>();
  const packages: Record<string, string> = {};
  const protoFiles: string[] = [];
  const parsedDirs = new Set<string>();
  // A package and, transitively, every package its messages refer to.
  const load = (dir: string): string => {
    const parsed = protobuf.parse(readFileSync(join(dir, 'generated.proto'), 'utf8'), root, {
      keepCase: true,
      alternateCommentMode: true,
    });
    parsedDirs.add(dir);
    protoFiles.push(dir);
    go.set(parsed.package!, goStructs(dir));
    for (const imp of parsed.imports ?? []) {
      const m = /^k8s\.io\/(api|apimachinery|apiextensions-apiserver)\/(.*)\/generated\.proto$/.exec(imp);
      if (!m) continue;
      const importDir = join(roots[m[1] === 'api' ? 0 : m[1] === 'apimachinery' ? 1 : 2], m[2]);
      if (!parsedDirs.has(importDir)) load(importDir);
    }
    return parsed.package!;
  };
  for (const s of SOURCES) {
    const dir = join(roots[s.root], s.dir);
    const pkg = parsedDirs.has(dir) ? packageOf(dir) : load(dir);
    if (s.group !== undefined) packages[s.group ? `${s.group}/${s.version}` : s.version!] = shortName(pkg);
  }
  root.resolveAll();

  const unmatched: string[] = [];
  const messages: Record<string, { f: unknown[][]; w?: 1 }> = {};
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) {
        const pkg = obj.parent!.fullName.replace(/^\./, '');
        const info = go.get(pkg);
        const gostruct = info?.structs.get(obj.name);
        const fields = obj.fieldsArray.map((f) => {
          const g = gostruct?.get(f.name);
          if (!g) unmatched.push(`${obj.fullName}.${f.name}`);
          const type = (t: string, resolved: protobuf.ReflectionObject | null) =>
            resolved ? shortName(resolved.fullName) : t;
          let typeName: string;
          if (f instanceof protobuf.MapField) {
            const value = type(f.type, f.resolvedType);
            typeName = `map<${f.keyType},${value}>`;
          } else {
            typeName = type(f.type, f.resolvedType);
          }
          let flags = '';
          if (f.repeated) flags += 'r';
          if (g?.pointer) flags += 'p';
          if (g?.omitempty) flags += 'o';
          if (g?.omitzero) flags += 'z';
          if (g?.inline) flags += 'i';
          return { order: g?.order ?? f.id, row: [g?.json ?? f.name, f.id, typeName, flags] };
        });
        // JSON field order is the Go struct's; the wire order is by number (the codec sorts).
        fields.sort((a, b) => a.order - b.order);
        const spec: { f: unknown[][]; w?: 1 } = { f: fields.map((x) => x.row) };
        const only = obj.fieldsArray[0];
        if (info?.sliceTypes.has(obj.name) && obj.fieldsArray.length === 1 && only.name === 'items' && only.repeated)
          spec.w = 1;
        messages[shortName(obj.fullName)] = spec;
      }
      if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) visit(obj);
    }
  };
  visit(root);

  const sorted = Object.fromEntries(
    Object.keys(messages)
      .sort()
      .map((k) => [k, messages[k]]),
  );
  const out =
    '// Generated by src/tools/gen-protobuf-table.ts from the upstream API definitions. Do not edit.\n' +
    '// Field rows: [json name, field number, type, flags]; flags: r repeated, p pointer (written only\n' +
    '// when set), o omitempty, z omitzero, i inlined into the parent in JSON. w: a named slice type\n' +
    '// (one repeated "items" field on the wire, a bare array in JSON).\n' +
    "import type { WireTable } from './types.js';\n\n" +
    `export const PACKAGES: Record<string, string> = ${JSON.stringify(packages, null, 1)};\n\n` +
    'export const MESSAGES: WireTable = {\n' +
    Object.entries(sorted)
      .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)},`)
      .join('\n') +
    '\n};\n';
  const target = join(process.cwd(), 'src/machinery/protobuf/wiretable.ts');
  writeFileSync(target, out);
  if (unmatched.length) console.log(`no Go field for: ${unmatched.join(' ')}`);
  console.log(`wrote ${Object.keys(sorted).length} messages from ${protoFiles.length} files to ${target}`);
}

main();
