// Semantic versions and constraints with Masterminds/semver v3 rules (used by semverCompare,
// dependency version matching and Chart.yaml kubeVersion).

export interface SemVer {
  major: bigint;
  minor: bigint;
  patch: bigint;
  prerelease: string;
  metadata: string;
  original: string;
}

const VERSION_RE =
  /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;

export function parseSemver(v: string): SemVer {
  const m = VERSION_RE.exec(v);
  if (!m) throw new Error('Invalid Semantic Version');
  const num = (s: string | undefined) => (s ? BigInt(s.replace(/^\./, '')) : 0n);
  return {
    major: num(m[1]),
    minor: num(m[2]),
    patch: num(m[3]),
    prerelease: m[5] ?? '',
    metadata: m[8] ?? '',
    original: v,
  };
}

function comparePre(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return 1;
  if (b === '') return -1;
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (i >= pa.length) return -1;
    if (i >= pb.length) return 1;
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return BigInt(x) < BigInt(y) ? -1 : 1;
    if (xn) return -1;
    if (yn) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export function compareSemver(a: SemVer, b: SemVer): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  return comparePre(a.prerelease, b.prerelease);
}

interface Constraint {
  op: string;
  con: SemVer;
  majorDirty: boolean;
  minorDirty: boolean;
  patchDirty: boolean;
  dirty: boolean;
}

const CONSTRAINT_RE =
  /^\s*(!=|>=|=>|<=|=<|~>|~|\^|>|<|=)?\s*(v?[0-9xX*]+(\.[0-9xX*]+)?(\.[0-9xX*]+)?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)\s*$/;

function parseConstraint(s: string): Constraint {
  const m = CONSTRAINT_RE.exec(s);
  if (!m) throw new Error(`improper constraint: ${s}`);
  const ver = m[2];
  const parts = ver.replace(/^v/, '').split(/[-+]/)[0].split('.');
  const wild = (p: string | undefined) => p === undefined || p === 'x' || p === 'X' || p === '*';
  const majorWild = wild(parts[0]);
  const minorDirty = majorWild || wild(parts[1]);
  const patchDirty = minorDirty || wild(parts[2]);
  const clean = [majorWild ? '0' : parts[0], wild(parts[1]) ? '0' : parts[1], wild(parts[2]) ? '0' : parts[2]].join(
    '.',
  );
  const rest = ver.slice(ver.replace(/^v/, '').split(/[-+]/)[0].length + (ver.startsWith('v') ? 1 : 0));
  const con = parseSemver(clean + rest);
  con.original = ver;
  return { op: m[1] ?? '', con, majorDirty: majorWild, minorDirty, patchDirty, dirty: patchDirty };
}

function check(c: Constraint, v: SemVer): boolean {
  if (v.prerelease !== '' && c.con.prerelease === '') return false;
  const cmp = compareSemver(v, c.con);
  switch (c.op) {
    case '':
    case '=':
      if (c.dirty) {
        if (c.majorDirty) return true;
        if (v.major !== c.con.major) return false;
        if (c.minorDirty) return true;
        if (v.minor !== c.con.minor) return false;
        return c.patchDirty || v.patch === c.con.patch;
      }
      return cmp === 0;
    case '!=':
      return !check({ ...c, op: '=' }, v);
    case '>':
      if (c.dirty) {
        if (c.minorDirty) return v.major > c.con.major;
        return v.major > c.con.major || (v.major === c.con.major && v.minor > c.con.minor);
      }
      return cmp > 0;
    case '>=':
    case '=>':
      return cmp >= 0;
    case '<':
      return cmp < 0;
    case '<=':
    case '=<':
      if (c.dirty) {
        if (c.minorDirty) return v.major <= c.con.major;
        return v.major < c.con.major || (v.major === c.con.major && v.minor <= c.con.minor);
      }
      return cmp <= 0;
    case '~':
    case '~>':
      if (cmp < 0) return false;
      if (c.con.major === 0n && c.con.minor === 0n && c.con.patch === 0n && c.minorDirty) return true;
      if (v.major !== c.con.major) return false;
      return c.minorDirty || v.minor === c.con.minor;
    case '^':
      if (cmp < 0) return false;
      if (c.con.major > 0n || c.minorDirty) return v.major === c.con.major;
      if (c.con.minor > 0n || c.patchDirty) return v.major === 0n && v.minor === c.con.minor;
      return v.major === 0n && v.minor === 0n && v.patch === c.con.patch;
  }
  return false;
}

/** Parses "a, b || c" constraint text into OR-groups of AND-ed constraints. */
export function parseConstraints(text: string): Constraint[][] {
  return text.split('||').map((group) => {
    let g = group.trim();
    // Hyphen ranges: "1.2 - 1.4.5" means ">= 1.2, <= 1.4.5".
    g = g.replace(/(\S+)\s+-\s+(\S+)/g, '>= $1, <= $2');
    const items = g
      .replace(/(!=|>=|=>|<=|=<|~>|~|\^|>|<|=)\s+/g, '$1')
      .split(/[\s,]+/)
      .filter(Boolean);
    if (items.length === 0) throw new Error(`improper constraint: ${text}`);
    return items.map(parseConstraint);
  });
}

export function satisfies(constraints: Constraint[][], v: SemVer): boolean {
  return constraints.some((group) => group.every((c) => check(c, v)));
}

/** semverCompare: errors for bad constraints or versions. */
export function semverCompare(constraint: string, version: string): boolean {
  const c = parseConstraints(constraint);
  return satisfies(c, parseSemver(version));
}

/** Helm's chartutil.IsCompatibleRange: false on any parse error. */
export function isCompatibleRange(constraint: string, version: string): boolean {
  try {
    return semverCompare(constraint, version);
  } catch {
    return false;
  }
}
