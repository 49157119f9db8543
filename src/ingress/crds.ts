// The CustomResourceDefinitions the ingress controller serves and installs at startup (as
// k3s installs its bundled controllers' CRDs): projectcontour.io/v1 HTTPProxy and
// TLSCertificateDelegation, and the Gateway API's standard channel (GatewayClass, Gateway,
// HTTPRoute, GRPCRoute, ReferenceGrant) with TLSRoute, TCPRoute and UDPRoute of the experimental
// channel. The schemas are structural and cover the fields k8ts implements; other fields are pruned, as the API server prunes any field its schema does not declare.
// status is a subresource everywhere and kept as written.
import type {
  CustomResourceDefinition,
  CustomResourceColumnDefinition,
  JSONSchemaProps,
} from 'kubernetes-types/apiextensions/v1.js';

/** kubernetes-types leaves out the x-kubernetes-* extensions of Schema. */
type Schema = Omit<JSONSchemaProps, 'items' | 'properties'> & {
  items?: Schema;
  properties?: Record<string, Schema>;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
};

const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const int = (extra: Schema = {}): Schema => ({ type: 'integer', ...extra });
const bool: Schema = { type: 'boolean' };
const arr = (items: Schema, extra: Schema = {}): Schema => ({ type: 'array', items, ...extra });
const obj = (properties: Record<string, Schema>, required?: string[]): Schema => ({
  type: 'object',
  properties,
  ...(required ? { required } : {}),
});
/** Status and opaque parts: kept whole. */
const open: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

function crd(
  group: string,
  kind: string,
  plural: string,
  scope: 'Namespaced' | 'Cluster',
  versions: { name: string; spec: Schema; storage?: boolean }[],
  columns: CustomResourceColumnDefinition[] = [],
  shortNames?: string[],
  categories?: string[],
): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { 'app.kubernetes.io/managed-by': 'k8ts' } },
    spec: {
      group,
      scope,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        ...(shortNames ? { shortNames } : {}),
        ...(categories ? { categories } : {}),
      },
      versions: versions.map((v, i) => ({
        name: v.name,
        served: true,
        storage: v.storage ?? i === 0,
        schema: {
          openAPIV3Schema: obj({
            apiVersion: str(),
            kind: str(),
            metadata: { type: 'object' },
            spec: v.spec,
            status: open,
          }),
        },
        subresources: { status: {} },
        additionalPrinterColumns: columns,
      })),
    },
  };
}

// ---- projectcontour.io/v1 ----

const headersPolicy = obj({ set: arr(obj({ name: str(), value: str() }, ['name', 'value'])), remove: arr(str()) });
const matchCondition = obj({
  prefix: str(),
  header: obj(
    {
      name: str(),
      present: bool,
      notpresent: bool,
      contains: str(),
      notcontains: str(),
      exact: str(),
      notexact: str(),
      regex: str(),
    },
    ['name'],
  ),
  queryParameter: obj(
    {
      name: str(),
      exact: str(),
      prefix: str(),
      suffix: str(),
      regex: str(),
      contains: str(),
      present: bool,
      ignoreCase: bool,
    },
    ['name'],
  ),
});

const httpProxySpec = obj({
  virtualhost: obj({ fqdn: str(), tls: obj({ secretName: str(), passthrough: bool }) }, ['fqdn']),
  // TCP proxying of the fqdn's TLS connections (passed through, or terminated with tls.secretName):
  // to these services, or to those of the tcpproxy of another HTTPProxy it includes.
  tcpproxy: obj({
    services: arr(
      obj({ name: str(), port: int({ minimum: 1, maximum: 65535 }), weight: int({ minimum: 0 }) }, ['name', 'port']),
    ),
    include: obj({ name: str(), namespace: str() }, ['name']),
    includes: obj({ name: str(), namespace: str() }, ['name']),
  }),
  includes: arr(obj({ name: str(), namespace: str(), conditions: arr(matchCondition) }, ['name'])),
  routes: arr(
    obj({
      conditions: arr(matchCondition),
      services: arr(
        obj(
          {
            name: str(),
            port: int({ minimum: 1, maximum: 65535 }),
            weight: int({ minimum: 0 }),
            mirror: bool,
            requestHeadersPolicy: headersPolicy,
            responseHeadersPolicy: headersPolicy,
          },
          ['name', 'port'],
        ),
      ),
      timeoutPolicy: obj({ response: str(), idle: str() }),
      retryPolicy: obj({ count: int({ minimum: 0 }), perTryTimeout: str() }),
      pathRewritePolicy: obj({ replacePrefix: arr(obj({ prefix: str(), replacement: str() }, ['replacement'])) }),
      requestHeadersPolicy: headersPolicy,
      responseHeadersPolicy: headersPolicy,
      permitInsecure: bool,
    }),
  ),
});

export const HTTPPROXY_CRD = crd(
  'projectcontour.io',
  'HTTPProxy',
  'httpproxies',
  'Namespaced',
  [{ name: 'v1', spec: httpProxySpec }],
  [
    { name: 'FQDN', type: 'string', jsonPath: '.spec.virtualhost.fqdn', description: 'Fully qualified domain name' },
    {
      name: 'TLS Secret',
      type: 'string',
      jsonPath: '.spec.virtualhost.tls.secretName',
      description: 'Secret with TLS credentials',
    },
    {
      name: 'Status',
      type: 'string',
      jsonPath: '.status.currentStatus',
      description: 'The current status of the HTTPProxy',
    },
    {
      name: 'Status Description',
      type: 'string',
      jsonPath: '.status.description',
      description: 'Description of the current status',
    },
  ],
  ['proxy', 'proxies'],
);

export const TLS_DELEGATION_CRD = crd(
  'projectcontour.io',
  'TLSCertificateDelegation',
  'tlscertificatedelegations',
  'Namespaced',
  [
    {
      name: 'v1',
      spec: obj(
        {
          delegations: arr(
            obj({ secretName: str(), targetNamespaces: arr(str()) }, ['secretName', 'targetNamespaces']),
          ),
        },
        ['delegations'],
      ),
    },
  ],
  [],
  ['tlscerts'],
);

// ---- gateway.networking.k8s.io ----

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const objectRef = obj({ group: str(), kind: str(), name: str(), namespace: str() }, ['name']);
const parentRef = obj({ group: str(), kind: str(), namespace: str(), name: str(), sectionName: str(), port: int() }, [
  'name',
]);
const headerFilter = obj({
  set: arr(obj({ name: str(), value: str() }, ['name', 'value'])),
  add: arr(obj({ name: str(), value: str() }, ['name', 'value'])),
  remove: arr(str()),
});
const pathModifier = obj(
  { type: str({ enum: ['ReplaceFullPath', 'ReplacePrefixMatch'] }), replaceFullPath: str(), replacePrefixMatch: str() },
  ['type'],
);
const backendRef = obj(
  { group: str(), kind: str(), name: str(), namespace: str(), port: int(), weight: int({ minimum: 0 }) },
  ['name'],
);
const httpRouteFilter = obj(
  {
    type: str(),
    requestHeaderModifier: headerFilter,
    responseHeaderModifier: headerFilter,
    requestRedirect: obj({
      scheme: str(),
      hostname: str(),
      path: pathModifier,
      port: int(),
      statusCode: int(),
    }),
    urlRewrite: obj({ hostname: str(), path: pathModifier }),
    requestMirror: obj({ backendRef: backendRef, percent: int(), fraction: open }),
  },
  ['type'],
);
const httpRouteSpec = obj({
  parentRefs: arr(parentRef),
  hostnames: arr(str()),
  rules: arr(
    obj({
      name: str(),
      matches: arr(
        obj({
          path: obj({ type: str({ enum: ['Exact', 'PathPrefix', 'RegularExpression'] }), value: str() }),
          headers: arr(obj({ type: str(), name: str(), value: str() }, ['name', 'value'])),
          queryParams: arr(obj({ type: str(), name: str(), value: str() }, ['name', 'value'])),
          method: str(),
        }),
      ),
      filters: arr(httpRouteFilter),
      backendRefs: arr(obj({ ...backendRef.properties, filters: arr(httpRouteFilter) }, ['name'])),
      timeouts: obj({ request: str(), backendRequest: str() }),
    }),
  ),
});

const listener = obj(
  {
    name: str(),
    hostname: str(),
    port: int({ minimum: 1, maximum: 65535 }),
    protocol: str(),
    tls: obj({ mode: str(), certificateRefs: arr(objectRef), options: open }),
    allowedRoutes: obj({
      namespaces: obj({ from: str({ enum: ['All', 'Same', 'Selector'] }), selector: open }),
      kinds: arr(obj({ group: str(), kind: str() }, ['kind'])),
    }),
  },
  ['name', 'port', 'protocol'],
);

const v1Andbeta = (spec: Schema) => [
  { name: 'v1', spec, storage: true },
  { name: 'v1beta1', spec, storage: false },
];

export const GATEWAYCLASS_CRD = crd(
  GATEWAY_GROUP,
  'GatewayClass',
  'gatewayclasses',
  'Cluster',
  v1Andbeta(obj({ controllerName: str(), parametersRef: open, description: str() }, ['controllerName'])),
  [
    { name: 'Controller', type: 'string', jsonPath: '.spec.controllerName' },
    { name: 'Accepted', type: 'string', jsonPath: '.status.conditions[?(@.type=="Accepted")].status' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
  ['gc'],
  ['gateway-api'],
);

export const GATEWAY_CRD = crd(
  GATEWAY_GROUP,
  'Gateway',
  'gateways',
  'Namespaced',
  v1Andbeta(
    obj(
      {
        gatewayClassName: str(),
        listeners: arr(listener, { minItems: 1 }),
        addresses: arr(obj({ type: str(), value: str() }, ['value'])),
      },
      ['gatewayClassName', 'listeners'],
    ),
  ),
  [
    { name: 'Class', type: 'string', jsonPath: '.spec.gatewayClassName' },
    { name: 'Address', type: 'string', jsonPath: '.status.addresses[*].value' },
    { name: 'Programmed', type: 'string', jsonPath: '.status.conditions[?(@.type=="Programmed")].status' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
  ['gtw'],
  ['gateway-api'],
);

export const HTTPROUTE_CRD = crd(
  GATEWAY_GROUP,
  'HTTPRoute',
  'httproutes',
  'Namespaced',
  v1Andbeta(httpRouteSpec),
  [
    { name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
  undefined,
  ['gateway-api'],
);

const grpcRouteSpec = obj({
  parentRefs: arr(parentRef),
  hostnames: arr(str()),
  rules: arr(
    obj({
      name: str(),
      matches: arr(
        obj({
          method: obj({ type: str({ enum: ['Exact', 'RegularExpression'] }), service: str(), method: str() }),
          headers: arr(obj({ type: str(), name: str(), value: str() }, ['name', 'value'])),
        }),
      ),
      filters: arr(httpRouteFilter),
      backendRefs: arr(obj({ ...backendRef.properties, filters: arr(httpRouteFilter) }, ['name'])),
    }),
  ),
});

export const GRPCROUTE_CRD = crd(
  GATEWAY_GROUP,
  'GRPCRoute',
  'grpcroutes',
  'Namespaced',
  [{ name: 'v1', spec: grpcRouteSpec }],
  [
    { name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
  undefined,
  ['gateway-api'],
);

// Experimental channel: TLS passthrough by SNI, plain TCP forwarding and UDP datagrams.
const streamRules = arr(obj({ name: str(), backendRefs: arr(backendRef, { minItems: 1 }) }), { minItems: 1 });

export const TLSROUTE_CRD = crd(
  GATEWAY_GROUP,
  'TLSRoute',
  'tlsroutes',
  'Namespaced',
  [
    {
      name: 'v1alpha2',
      spec: obj({ parentRefs: arr(parentRef), hostnames: arr(str()), rules: streamRules }, ['rules']),
    },
  ],
  [
    { name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
  undefined,
  ['gateway-api'],
);

/** TCPRoute and UDPRoute: parentRefs and rules of backendRefs, no hostnames. */
const portRouteCrd = (kind: string, plural: string) =>
  crd(
    GATEWAY_GROUP,
    kind,
    plural,
    'Namespaced',
    [{ name: 'v1alpha2', spec: obj({ parentRefs: arr(parentRef), rules: streamRules }, ['rules']) }],
    [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
    undefined,
    ['gateway-api'],
  );

export const TCPROUTE_CRD = portRouteCrd('TCPRoute', 'tcproutes');
export const UDPROUTE_CRD = portRouteCrd('UDPRoute', 'udproutes');

export const REFERENCEGRANT_CRD = crd(
  GATEWAY_GROUP,
  'ReferenceGrant',
  'referencegrants',
  'Namespaced',
  [
    {
      name: 'v1beta1',
      spec: obj(
        {
          from: arr(obj({ group: str(), kind: str(), namespace: str() }, ['group', 'kind', 'namespace'])),
          to: arr(obj({ group: str(), kind: str(), name: str() }, ['group', 'kind'])),
        },
        ['from', 'to'],
      ),
    },
  ],
  [],
  ['refgrant'],
  ['gateway-api'],
);

export const INGRESS_CRDS: readonly CustomResourceDefinition[] = [
  HTTPPROXY_CRD,
  TLS_DELEGATION_CRD,
  GATEWAYCLASS_CRD,
  GATEWAY_CRD,
  HTTPROUTE_CRD,
  GRPCROUTE_CRD,
  TLSROUTE_CRD,
  TCPROUTE_CRD,
  UDPROUTE_CRD,
  REFERENCEGRANT_CRD,
];
