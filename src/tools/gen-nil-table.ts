// Generates src/machinery/protobuf/niltable.ts: the fields upstream writes as `null` when they
// are unset, per message (Go struct) of the built-in API groups.
//
// Go's encoding/json writes every struct field whose tag lacks `omitempty` (and `omitzero`), so a
// nil slice, a nil map and a nil pointer in such a field come out as `null`. kube-apiserver's Go
// structs get nil there whenever the field was missing from a JSON body, or was an empty list or
// map in a protobuf body (the wire cannot tell an empty repeated field from a missing one). So a
// ClusterRole created without rules answers `"rules": null`, an EndpointSlice without endpoints
// `"endpoints": null`. The rules this table applies (read from the Go types of each package):
//   - a slice field (`[]T`, or a named type whose underlying type is a slice), not `[]byte`
//     (base64, a string in JSON; required wherever it is not omitempty): "list";
//   - a map field (`map[K]V`, or a named map type such as ResourceList): "map";
//   - a pointer field (`*T`): "pointer" (a nil pointer is `null` whatever T is);
//   each only when its JSON tag has neither `omitempty` nor `omitzero`, and is not `-` or inline.
//   - the `items` of a list type (a struct with ListMeta) are left out: the registry always
//     answers lists with a non-nil, possibly empty, slice.
// Value (non-pointer) struct fields are always written by Go, `{}` when empty, omitempty or not;
// they are not in this table (api/zerovalues.ts fills the ones clients depend on).
// Run by hand when the API changes, with the same checkouts as gen-protobuf-table.ts; never in
// CI or the build. The committed table is the artifact; test/unit/niltable.test.ts checks it
// against the protobuf wire table's flags.
//
//   node dist/src/tools/gen-nil-table.js API_DIR APIMACHINERY_DIR APIEXTENSIONS_DIR AGGREGATOR_DIR METRICS_DIR
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_NAMES, SOURCES, isTypeSource, packageOf, shortName } from './upstream-api.js';

type Nil = 'list' | 'map' | 'pointer';

interface GoPackage {
  /** Named types: name -> underlying type text (`struct` for structs). */
  types: Map<string, string>;
  /** Structs: name -> fields in order, with the file's import aliases to resolve their types. */
  structs: Map<string, { json: string; type: string; opts: string[]; imports: Map<string, string> }[]>;
}

const IMPORT_ROOTS: [string, number][] = [
  ['k8s.io/api/', 0],
  ['k8s.io/apimachinery/', 1],
  ['k8s.io/apiextensions-apiserver/', 2],
  ['k8s.io/kube-aggregator/', 3],
  ['k8s.io/metrics/', 4],
];

/** "k8s.io/api/core/v1" -> "0:core/v1": a package key, or undefined for packages not read. */
function packageKey(importPath: string): string | undefined {
  for (const [prefix, root] of IMPORT_ROOTS)
    if (importPath.startsWith(prefix)) return `${root}:${importPath.slice(prefix.length)}`;
  return undefined;
}

function readPackage(dir: string): GoPackage {
  const pkg: GoPackage = { types: new Map(), structs: new Map() };
  for (const file of readdirSync(dir)) {
    if (!isTypeSource(file)) continue;
    const text = readFileSync(join(dir, file), 'utf8');
    const imports = new Map<string, string>();
    for (const m of text.matchAll(/^\s*(?:(\w+)\s+)?"(k8s\.io\/[^"]+)"$/gm))
      imports.set(m[1] ?? m[2].split('/').pop()!, m[2]);
    let fields: { json: string; type: string; opts: string[]; imports: Map<string, string> }[] | undefined;
    for (const line of text.split('\n')) {
      const decl = /^type (\w+) (.+)$/.exec(line);
      if (decl) {
        const struct = decl[2].startsWith('struct {');
        pkg.types.set(decl[1], struct ? 'struct' : decl[2].trim());
        fields = struct && !decl[2].includes('}') ? [] : undefined;
        if (fields) pkg.structs.set(decl[1], fields);
        continue;
      }
      if (line.startsWith('}')) fields = undefined;
      if (!fields || /^\s*\/\//.test(line)) continue;
      // Embedded fields have no name: only their type (ListMeta marks a list type).
      const m = /^\s+(?:(\w+)\s+)?(\S+)\s+`([^`]*)`/.exec(line);
      if (!m) continue;
      if (!m[1]) {
        fields.push({ json: '', type: m[2], opts: [], imports });
        continue;
      }
      const json = /json:"([^"]*)"/.exec(m[3])?.[1];
      if (json === undefined) continue;
      const [name, ...opts] = json.split(',');
      if (!name || name === '-') continue; // inline or not serialised
      fields.push({ json: name, type: m[2], opts, imports });
    }
  }
  return pkg;
}

function main(): void {
  const roots = process.argv.slice(2);
  if (roots.length !== 5 || !roots.every((r) => existsSync(r))) {
    console.error(`usage: gen-nil-table ${ROOT_NAMES.join(' ')}`);
    process.exit(2);
  }
  const packages = new Map<string, GoPackage>();
  const protoPackage = new Map<string, string>();
  for (const s of SOURCES) {
    const dir = join(roots[s.root], s.dir);
    packages.set(`${s.root}:${s.dir}`, readPackage(dir));
    protoPackage.set(`${s.root}:${s.dir}`, shortName(packageOf(dir)));
  }
  // core/v1 is imported by most groups; every package read above is resolvable.
  /** What a Go type is in JSON, for this table's purpose. */
  const classify = (type: string, pkgKey: string, imports: Map<string, string>, depth = 0): Nil | undefined => {
    if (type === '[]byte') return undefined;
    if (type.startsWith('[]')) return 'list';
    if (type.startsWith('map[')) return 'map';
    if (type.startsWith('*')) return 'pointer';
    if (depth > 4) return undefined;
    const dot = type.indexOf('.');
    const key = dot < 0 ? pkgKey : packageKey(imports.get(type.slice(0, dot)) ?? '');
    const underlying = key ? packages.get(key)?.types.get(type.slice(dot + 1)) : undefined;
    if (!underlying || underlying === 'struct') return undefined;
    return classify(underlying, key!, imports, depth + 1);
  };
  const table: Record<string, Record<string, Nil>> = {};
  let count = 0;
  for (const [key, pkg] of packages) {
    for (const [name, fields] of pkg.structs) {
      const isList = fields.some((f) => /(^|\.)ListMeta$/.test(f.type));
      for (const f of fields) {
        if (!f.json || f.opts.includes('omitempty') || f.opts.includes('omitzero')) continue;
        if (isList && f.json === 'items') continue;
        const nil = classify(f.type, key, f.imports);
        if (!nil) continue;
        (table[`${protoPackage.get(key)}.${name}`] ??= {})[f.json] = nil;
        count++;
      }
    }
  }
  const sorted = Object.keys(table)
    .sort()
    .map((k) => `${JSON.stringify(k)}: ${JSON.stringify(table[k])},`);
  const out =
    '// Generated by src/tools/gen-nil-table.ts from the upstream Go types. Do not edit.\n' +
    "// Per message: the fields upstream's JSON writes as `null` when unset (see the tool's header):\n" +
    '// list and map fields and pointers whose JSON tag has no omitempty.\n\n' +
    "export const NIL_FIELDS: Record<string, Record<string, 'list' | 'map' | 'pointer'>> = {\n" +
    sorted.join('\n') +
    '\n};\n';
  const target = join(process.cwd(), 'src/machinery/protobuf/niltable.ts');
  writeFileSync(target, out);
  console.log(`wrote ${count} fields of ${sorted.length} messages to ${target}`);
}

main();
