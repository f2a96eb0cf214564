// Layer and cycle rules, checked by `npm run check:layers` (part of `npm test`).
// Layers point one way: functions → http edge → use cases → runtime → adapters → kernel.
// docs/architecture.md draws the same map.
const KERNEL = '^lib/(util|log|errors|metrics|tracing)/';
const ADAPTERS = '^lib/(consul|discovery|grpc|cloudmap|config|lease|connect)/';
const USE_CASES = '^lib/(greeter|registry|health-sync)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular-files', severity: 'error', comment: 'No import cycle between files.', from: {}, to: { circular: true } },
    { name: 'no-circular-folders', severity: 'error', comment: 'No import cycle between folders.', scope: 'folder', from: {}, to: { circular: true } },
    { name: 'lib-stays-in-lib', severity: 'error', comment: 'lib/ never reaches up into handlers, scripts, tests or the backend.', from: { path: '^lib/' }, to: { path: '^(functions|scripts|test|bench|greeter-service)/' } },
    { name: 'kernel-is-a-leaf', severity: 'error', comment: 'util, log, metrics, errors and tracing know no other part of lib.', from: { path: KERNEL }, to: { path: '^lib/', pathNot: KERNEL } },
    { name: 'adapters-know-no-caller', severity: 'error', comment: 'Adapters never import the runtime, a use case or the HTTP edge.', from: { path: ADAPTERS }, to: { path: '^lib/(runtime|greeter|registry|health-sync|http)/' } },
    { name: 'runtime-knows-no-use-case', severity: 'error', comment: 'The shared runtime is built from adapters only.', from: { path: '^lib/runtime/' }, to: { path: '^lib/(greeter|registry|health-sync|http)/' } },
    { name: 'use-cases-stand-alone', severity: 'error', comment: 'A use case never imports another one, nor the HTTP edge.', from: { path: USE_CASES }, to: { path: '^lib/(greeter|registry|health-sync|http)/', pathNot: '^lib/$1/' } },
    { name: 'consul-is-lowest', severity: 'error', comment: 'Consul access knows nothing built on it.', from: { path: '^lib/consul/' }, to: { path: '^lib/(discovery|grpc|cloudmap|config|lease|connect)/' } },
    { name: 'connect-on-consul-only', severity: 'error', comment: 'Connect certificates and intentions are built on Consul access and the kernel only.', from: { path: '^lib/connect/' }, to: { path: '^lib/', pathNot: '^lib/(connect|consul|util|log|errors|metrics)/' } },
    { name: 'discovery-below-grpc', severity: 'error', comment: 'Discovery feeds gRPC, never the reverse.', from: { path: '^lib/discovery/' }, to: { path: '^lib/(grpc|cloudmap|config|lease)/' } },
    { name: 'config-below-lease', severity: 'error', comment: 'Config is read by the lease, never the reverse.', from: { path: '^lib/config/' }, to: { path: '^lib/(discovery|grpc|cloudmap|lease)/' } },
    { name: 'handlers-call-use-cases', severity: 'error', comment: 'functions/ are thin: they reach adapters only through a use case.', from: { path: '^functions/' }, to: { path: ADAPTERS } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^proto/gen/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
