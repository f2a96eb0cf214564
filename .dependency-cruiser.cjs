// Layer and cycle rules, checked by `npm run check:layers` (part of `npm test`).
// Layers point one way: functions → http edge → use cases → runtime → adapters → kernel.
// Each adapter and the HTTP edge name what they MAY import (an allow-list), so a new arrow is refused until a
// rule here says it belongs. docs/architecture.md draws the same map; test/unit/layers.test.ts proves each rule
// by a deliberate bad import.
const KERNEL_FOLDERS = 'util|log|errors|metrics|tracing';
const KERNEL = `^lib/(${KERNEL_FOLDERS})/`;
const ADAPTERS = '^lib/(consul|discovery|grpc|cloudmap|config|lease|connect)/';
const USE_CASES = '^lib/(greeter|registry|health-sync|rpc)/';
const LIB_FOLDERS = `^lib/(http|greeter|registry|health-sync|rpc|runtime|consul|discovery|grpc|cloudmap|config|lease|connect|${KERNEL_FOLDERS})/`;

/** An allow-list: modules in lib/<folder>/ may import inside lib/ only their own folder, the kernel and `allowed`. */
function mayImport(name, folder, allowed, comment) {
  const ok = [folder, ...allowed, KERNEL_FOLDERS].join('|');
  return { name, severity: 'error', comment, from: { path: `^lib/${folder}/` }, to: { path: '^lib/', pathNot: `^lib/(${ok})/` } };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular-files', severity: 'error', comment: 'No import cycle between files.', from: {}, to: { circular: true } },
    {
      name: 'no-circular-folders',
      severity: 'error',
      comment: 'No import cycle between folders.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lib-stays-in-lib',
      severity: 'error',
      comment: 'lib/ never reaches up into handlers, scripts, tests or the backend.',
      from: { path: '^lib/' },
      to: { path: '^(functions|scripts|test|bench|greeter-service)/' },
    },
    {
      name: 'lib-folder-has-a-layer',
      severity: 'error',
      comment: 'A new folder in lib/ gets its layer (and its allow-list) here before it is used, or no rule would cover it.',
      from: { path: '^lib/', pathNot: LIB_FOLDERS },
      to: {},
    },
    {
      name: 'kernel-is-a-leaf',
      severity: 'error',
      comment: 'util, log, metrics, errors and tracing know no other part of lib.',
      from: { path: KERNEL },
      to: { path: '^lib/', pathNot: KERNEL },
    },
    mayImport('consul-imports-kernel-only', 'consul', [], 'Consul access is the lowest adapter: it knows nothing built on it.'),
    mayImport(
      'discovery-imports-consul-only',
      'discovery',
      ['consul'],
      'grpc → discovery → consul: discovery reads Consul; the Cloud Map source reaches lib/cloudmap only through an interface the runtime fills.',
    ),
    mayImport(
      'grpc-imports-discovery-consul',
      'grpc',
      ['discovery', 'consul'],
      'grpc → discovery → consul: calls are routed by discovery, never by the lease, config or Cloud Map.',
    ),
    mayImport(
      'config-imports-consul-only',
      'config',
      ['consul'],
      'lease → config → consul: the config store is read from Consul K/V and knows nothing that reads it.',
    ),
    mayImport(
      'lease-imports-config-consul',
      'lease',
      ['config', 'consul'],
      'lease → config → consul: the lease is a Consul session or check, configured by config; it never calls gRPC.',
    ),
    mayImport(
      'connect-imports-consul-only',
      'connect',
      ['consul'],
      'connect → consul: Connect certificates and intentions are built on Consul access and the kernel only.',
    ),
    mayImport(
      'cloudmap-stands-alone',
      'cloudmap',
      [],
      'Cloud Map stands alone: it talks to AWS, never to Consul or another adapter; the use case wires it to the rest.',
    ),
    // The error table names the runtime's errors (config, Consul) through lib/runtime/runtime-errors.ts, never the adapters' modules.
    mayImport(
      'http-over-use-cases',
      'http',
      ['greeter', 'registry', 'health-sync', 'rpc', 'runtime'],
      'The HTTP edge sits over the use cases and the runtime: it reaches no adapter, its error table included.',
    ),
    {
      name: 'runtime-knows-no-use-case',
      severity: 'error',
      comment: 'The shared runtime is built from adapters only.',
      from: { path: '^lib/runtime/' },
      to: { path: '^lib/(greeter|registry|health-sync|rpc|http)/' },
    },
    {
      name: 'use-cases-stand-alone',
      severity: 'error',
      comment: 'A use case never imports another one, nor the HTTP edge.',
      from: { path: USE_CASES },
      to: { path: '^lib/(greeter|registry|health-sync|rpc|http)/', pathNot: '^lib/$1/' },
    },
    {
      name: 'handlers-call-use-cases',
      severity: 'error',
      comment: 'functions/ are thin: they reach adapters only through a use case.',
      from: { path: '^functions/' },
      to: { path: ADAPTERS },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^proto/gen/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
