// Canary traffic split through the routers a Rollout names in spec.strategy.canary.trafficRouting:
// - Gateway API (Argo's `argoproj-labs/gatewayAPI` plugin config): the HTTPRoutes' backendRefs to
//   the canary and stable Services get the weights `w` and `100 - w`;
// - Contour HTTPProxy (Argo's `argoproj-labs/contour` plugin config: `httpProxy`, `namespace`):
//   the routes' services named canary and stable get the weights `w` and `100 - w`;
// - NGINX-style Ingress (`nginx.stableIngress`): a canary Ingress `<rollout>-<ingress>-canary`,
//   the stable one's copy pointing at the canary Service, with the canary and canary-weight
//   annotations (which the k8ts ingress controller honours, as ingress-nginx does).
// The functions building the objects are pure; `applyCanaryWeight` reads and writes them.
import type { Ingress, IngressBackend } from 'kubernetes-types/networking/v1.js';
import { R, spec, type Client } from '../client/client.js';
import { isNotFound } from '../client/errors.js';
import type { HTTPRoute } from '../ingress/gateway.js';
import type { HTTPProxy } from '../ingress/httpproxy.js';
import { CONTOUR_PLUGIN, GATEWAY_PLUGIN, ROLLOUT_API_VERSION, ROLLOUT_KIND, type Rollout } from './types.js';

const HTTP_PROXIES = spec<HTTPProxy>({
  group: 'projectcontour.io',
  version: 'v1',
  plural: 'httpproxies',
  namespaced: true,
  kind: 'HTTPProxy',
});

const HTTP_ROUTES = spec<HTTPRoute>({
  group: 'gateway.networking.k8s.io',
  version: 'v1',
  plural: 'httproutes',
  namespaced: true,
  kind: 'HTTPRoute',
});

/** Gives the canary and stable Services among `refs` their weights; true if any changed. */
function setWeights(
  refs: { name: string; weight?: number }[],
  canaryService: string,
  stableService: string,
  weight: number,
): boolean {
  let changed = false;
  for (const ref of refs) {
    const want = ref.name === canaryService ? weight : ref.name === stableService ? 100 - weight : undefined;
    if (want !== undefined && ref.weight !== want) {
      ref.weight = want;
      changed = true;
    }
  }
  return changed;
}

/** The route with weights set on its backendRefs to the two Services; undefined when unchanged. */
export function weightedRoute(
  route: HTTPRoute,
  canaryService: string,
  stableService: string,
  weight: number,
): HTTPRoute | undefined {
  const out = structuredClone(route);
  let changed = false;
  for (const rule of out.spec?.rules ?? []) {
    const services = (rule.backendRefs ?? []).filter((ref) => !ref.kind || ref.kind === 'Service');
    if (setWeights(services, canaryService, stableService, weight)) changed = true;
  }
  return changed ? out : undefined;
}

/**
 * The HTTPProxy with weights set on its routes' services (as Argo's `argoproj-labs/contour`
 * plugin does: mirrors left alone); undefined when unchanged.
 */
export function weightedProxy(
  proxy: HTTPProxy,
  canaryService: string,
  stableService: string,
  weight: number,
): HTTPProxy | undefined {
  const out = structuredClone(proxy);
  let changed = false;
  for (const route of out.spec?.routes ?? []) {
    const services = (route.services ?? []).filter((svc) => !svc.mirror);
    if (setWeights(services, canaryService, stableService, weight)) changed = true;
  }
  return changed ? out : undefined;
}

/** The HTTPProxies the `argoproj-labs/contour` plugin config names (`httpProxy`, `namespace`). */
export function contourProxies(ro: Rollout): { name: string; namespace: string }[] {
  const cfg = ro.spec.strategy.canary?.trafficRouting?.plugins?.[CONTOUR_PLUGIN];
  if (!cfg?.httpProxy) return [];
  return [{ name: cfg.httpProxy, namespace: cfg.namespace ?? ro.metadata?.namespace ?? 'default' }];
}

/** The names of the HTTPRoutes the gatewayAPI plugin config lists. */
export function gatewayRoutes(ro: Rollout): { name: string; namespace: string }[] {
  const cfg = ro.spec.strategy.canary?.trafficRouting?.plugins?.[GATEWAY_PLUGIN];
  if (!cfg) return [];
  const ns = cfg.namespace ?? ro.metadata?.namespace ?? 'default';
  const names = [...(cfg.httpRoute ? [cfg.httpRoute] : []), ...(cfg.httpRoutes ?? []).map((r) => r.name)];
  return names.map((name) => ({ name, namespace: ns }));
}

function swapBackend(b: IngressBackend | undefined, from: string, to: string): void {
  if (b?.service?.name === from) b.service.name = to;
}

/** The canary Ingress for a stable one (Argo's naming: `<rollout>-<stable ingress>-canary`). */
export function canaryIngress(ro: Rollout, stable: Ingress, weight: number, prefix?: string): Ingress {
  const c = ro.spec.strategy.canary;
  const stableSvc = c?.stableService ?? '';
  const canarySvc = c?.canaryService ?? '';
  const spec = structuredClone(stable.spec ?? {});
  swapBackend(spec.defaultBackend, stableSvc, canarySvc);
  for (const rule of spec.rules ?? [])
    for (const p of rule.http?.paths ?? []) swapBackend(p.backend, stableSvc, canarySvc);
  const p = prefix ?? c?.trafficRouting?.nginx?.annotationPrefix ?? 'nginx.ingress.kubernetes.io';
  const annotations: Record<string, string> = {};
  // The class the stable Ingress is served by, so the same controller serves the canary.
  const cls = stable.metadata?.annotations?.['kubernetes.io/ingress.class'];
  if (cls) annotations['kubernetes.io/ingress.class'] = cls;
  annotations[`${p}/canary`] = 'true';
  annotations[`${p}/canary-weight`] = String(weight);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: `${ro.metadata?.name}-${stable.metadata?.name}-canary`,
      namespace: stable.metadata?.namespace,
      annotations,
      ownerReferences: [
        {
          apiVersion: ROLLOUT_API_VERSION,
          kind: ROLLOUT_KIND,
          name: ro.metadata?.name ?? '',
          uid: ro.metadata?.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec,
  };
}

/** Sets the canary's weight on every router the Rollout names. */
export async function applyCanaryWeight(client: Client, ro: Rollout, weight: number): Promise<void> {
  const c = ro.spec.strategy.canary;
  const routing = c?.trafficRouting;
  if (!c || !routing) return;
  const canarySvc = c.canaryService ?? '';
  const stableSvc = c.stableService ?? '';
  for (const { name, namespace } of gatewayRoutes(ro)) {
    const routes = client.resource(HTTP_ROUTES).namespace(namespace);
    const route = await routes.get(name);
    const next = weightedRoute(route, canarySvc, stableSvc, weight);
    if (next) await routes.update(next);
  }
  for (const { name, namespace } of contourProxies(ro)) {
    const proxies = client.resource(HTTP_PROXIES).namespace(namespace);
    const next = weightedProxy(await proxies.get(name), canarySvc, stableSvc, weight);
    if (next) await proxies.update(next);
  }
  const nginx = routing.nginx;
  const stableIngresses = [...(nginx?.stableIngress ? [nginx.stableIngress] : []), ...(nginx?.stableIngresses ?? [])];
  const ingresses = client.resource(R.ingresses).namespace(ro.metadata?.namespace);
  for (const name of stableIngresses) {
    const stable = await ingresses.get(name);
    const want = canaryIngress(ro, stable, weight);
    try {
      const have = await ingresses.get(want.metadata!.name!);
      if (JSON.stringify(have.spec) === JSON.stringify(want.spec) && sameAnnotations(have, want)) continue;
      await ingresses.update({
        ...want,
        metadata: { ...want.metadata, resourceVersion: have.metadata.resourceVersion },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await ingresses.create(want);
    }
  }
}

function sameAnnotations(a: Ingress, b: Ingress): boolean {
  const x = a.metadata?.annotations ?? {};
  return Object.entries(b.metadata?.annotations ?? {}).every(([k, v]) => x[k] === v);
}
