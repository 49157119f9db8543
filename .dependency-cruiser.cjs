// Layer rules of src/ (../shared/DESIGN.md, docs/architecture.md): imports only point down.
//   machinery  <- api, storage  <- apiserver
//   machinery, api  <- client  <- controllers, scheduler, agent, sim, proxy, dns
//   server (the assembly of a whole server) wires the layers together; cli and embed sit on top
//   of it, the command line parsing flags and the library picking defaults.
// Type-only imports count too: a layer should not need to know the shapes of the layers above it.
const layer = (name, mayImport, except = []) => ({
  name: `${name}-imports-only-below`,
  comment: `src/${name} may import only ${mayImport.length ? mayImport.map((l) => `src/${l}`).join(', ') : 'itself'} (and node_modules)`,
  severity: 'error',
  from: { path: `^src/${name}/`, pathNot: except },
  to: { path: '^src/', pathNot: [`^src/${name}/`, ...mayImport.map((l) => `^src/${l}/`)] },
});

module.exports = {
  forbidden: [
    layer('machinery', []),
    // CEL (expressions, Kubernetes' CEL libraries) sits just above machinery: API validation
    // compiles rules, the API server evaluates them.
    layer('cel', ['machinery']),
    layer('api', ['machinery', 'cel']),
    layer('storage', ['machinery']),
    // The in-process transport is the server's side of the client's Transport interface.
    layer('apiserver', ['machinery', 'cel', 'api', 'storage', 'quota'], ['^src/apiserver/inprocess\\.ts$']),
    {
      ...layer('apiserver', ['machinery', 'api', 'storage', 'quota', 'client']),
      name: 'inprocess-transport-imports-only-below',
      from: { path: '^src/apiserver/inprocess\\.ts$' },
    },
    layer('quota', ['machinery', 'api']),
    // The dashboard's server side only serves its built files (web/ is the page itself).
    layer('dashboard', []),
    layer('client', ['machinery', 'api']),
    layer('controllers', ['machinery', 'api', 'client', 'quota']),
    layer('scheduler', ['machinery', 'api', 'client']),
    // The node agent hosts the node's networking components (cluster DNS, the service proxy,
    // NetworkPolicy), as k3s's agent runs them beside the kubelet; they never import the agent back.
    layer('agent', ['machinery', 'api', 'client', 'dns', 'proxy', 'netpol']),
    layer('sim', ['machinery', 'api', 'client']),
    layer('proxy', ['machinery', 'api', 'client']),
    layer('dns', ['machinery', 'api', 'client']),
    // NetworkPolicy rules are nftables too: it shares the service proxy's nft runner.
    layer('netpol', ['machinery', 'api', 'client', 'proxy']),
    // The ingress controller publishes the addresses ServiceLB does (controllers/servicelb).
    layer('ingress', ['machinery', 'api', 'client', 'controllers']),
    // Rollouts (Argo's Rollout) reuse the Deployment controller's hashing and ReplicaSet helpers,
    // and set weights on the ingress controller's HTTPRoutes.
    // Provisioning over SSH (`k8ts cluster up`) drains nodes through the API.
    layer('provision', ['machinery', 'api', 'client']),
    layer('rollouts', ['machinery', 'api', 'client', 'controllers', 'ingress']),
    {
      name: 'server-assembly-below-its-entry-points',
      comment: 'src/server assembles the server for src/cli and src/embed and imports neither',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(cli|embed)/' },
    },
    {
      name: 'library-not-command-line',
      comment: 'src/embed (the library) shares the server through src/server, not through src/cli',
      severity: 'error',
      from: { path: '^src/embed/' },
      to: { path: '^src/cli/' },
    },
    { name: 'no-circular-layers', severity: 'warn', from: { path: '^src/' }, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|test|bench)/' },
  },
};
