// String order as Go's sort.Strings gives it, for output users and tests compare with upstream's
// (sorted keys, names, warnings). `<` compares UTF-16 code units, which agrees with Go's byte
// order of UTF-8 for every string outside the astral planes; localeCompare would depend on ICU.

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** For sorting Object.entries() or Map entries by key. */
export function byKey(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return compareStrings(a[0], b[0]);
}

/** For sorting records by their `name`. */
export function byName(a: { readonly name: string }, b: { readonly name: string }): number {
  return compareStrings(a.name, b.name);
}
