// Node-side matching shared by plugins: tolerations against taints (v1helper.ToleratesTaint) and
// node selectors / required node affinity (component-helpers nodeaffinity).

export function toleratesTaint(t: any, taint: any): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
    case '':
      return (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

export function tolerated(tolerations: any[] | undefined, taint: any): boolean {
  for (const t of tolerations ?? []) if (toleratesTaint(t, taint)) return true;
  return false;
}

/** The first taint with one of `effects` the tolerations do not tolerate. */
export function findUntoleratedTaint(taints: any[] | undefined, tolerations: any[] | undefined, effects: (t: any) => boolean): any | undefined {
  for (const taint of taints ?? []) {
    if (!effects(taint)) continue;
    if (!tolerated(tolerations, taint)) return taint;
  }
  return undefined;
}

export type NodeMatcher = (node: any) => boolean;

function requirementMatches(req: any, value: string | undefined, present: boolean): boolean {
  const values: string[] = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return present && values.includes(value!);
    case 'NotIn':
      return !present || !values.includes(value!);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    case 'Gt':
    case 'Lt': {
      if (!present || values.length !== 1) return false;
      const a = Number.parseInt(value!, 10);
      const b = Number.parseInt(values[0], 10);
      if (!Number.isFinite(a) || !Number.isFinite(b) || String(a) !== value!.trim().replace(/^\+/, '')) return false;
      return req.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** One NodeSelectorTerm: all expressions and fields must match; an empty term matches nothing. */
export function nodeSelectorTermMatcher(term: any): NodeMatcher {
  const exprs: any[] = term?.matchExpressions ?? [];
  const fields: any[] = term?.matchFields ?? [];
  if (!exprs.length && !fields.length) return () => false;
  return (node) => {
    const labels = node.metadata?.labels ?? {};
    for (const e of exprs) {
      const present = Object.prototype.hasOwnProperty.call(labels, e.key);
      if (!requirementMatches(e, labels[e.key], present)) return false;
    }
    for (const f of fields) {
      if (f.key !== 'metadata.name') return false;
      if (!requirementMatches(f, node.metadata?.name, true)) return false;
    }
    return true;
  };
}

/** spec.nodeSelector and required node affinity together (GetRequiredNodeAffinity). */
export function requiredNodeAffinity(pod: any): NodeMatcher | null {
  const sel: Record<string, string> | undefined = pod.spec?.nodeSelector;
  const terms: any[] | undefined = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const hasSel = sel && Object.keys(sel).length > 0;
  if (!hasSel && !terms) return null;
  const termMatchers = terms ? terms.map(nodeSelectorTermMatcher) : null;
  return (node) => {
    if (hasSel) {
      const labels = node.metadata?.labels ?? {};
      for (const [k, v] of Object.entries(sel!)) if (labels[k] !== v) return false;
    }
    if (termMatchers) {
      let any = false;
      for (const m of termMatchers) {
        if (m(node)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    return true;
  };
}
