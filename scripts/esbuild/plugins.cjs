/**
 * esbuild plugins of the deployment bundles (serverless.yml `custom.esbuild.plugins`; serverless-esbuild
 * requires this file, so it is plain CommonJS).
 *
 * runtime-sdk: greet, status and rpc read Cloud Map only with DISCOVERY_SOURCE or DISCOVERY_FALLBACK
 * cloudmap, and then load its SDK on the first DiscoverInstances (lib/cloudmap/discover-instances.ts).
 * Bundled, the SDK added ~300 KiB to each (over their budget, bench/bundle-budgets.json); marked external,
 * esbuild hoisted it to a top-level import, loaded by every cold start. So in those bundles the SDK
 * becomes a small CommonJS module that requires the real one when first initialised: from the SDK v3 the
 * Lambda Node.js runtime ships (NODE_PATH holds /var/runtime/node_modules), as @aws-sdk/client-ssm is.
 * healthSync needs the SDK on every run, but bundled it was 809 KiB against the 600 KiB budget: it too takes
 * the runtime's SDK, loaded on its first run (lib/health-sync/health-sync-runtime.ts imports the sync lazily).
 *
 * grpc-client-only: every function is a gRPC client, yet @grpc/grpc-js's index requires its server
 * (server.js, server-call.js, server-interceptors.js: ~44 KiB of each minified bundle) to export `Server`
 * and the server interceptors. The package is CommonJS, so esbuild cannot tree-shake it, and grpc-js has
 * no client-only entry point. In the function bundles the index's two requires get a module whose classes throw when
 * constructed; any other grpc-js module that requires them still gets the real ones, so only those
 * exports change (test/integration/bundle-budget.test.ts holds what a bundle keeps and loses).
 *
 * code-cache: last, unless CODE_CACHE=0: the finished bundle becomes bundle + V8 code cache + ES module
 * handler, the cache made by the function's runtime Node as Lambda starts it for its memory size
 * (code-cache.cjs). serverless-esbuild calls this module's export with the service, which says each
 * function's runtime and memory; a tool that calls it without one gets the plain bundles.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: serverless-esbuild require()s the plugins */
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');
const { cacheRuntime, codeCacheMode, codeCachePlugin, functionOfEntry } = require('./code-cache.cjs');

const SDK = /^@aws-sdk\/client-servicediscovery$/;
const LAZY_IN = /functions[\\/](greet|status|rpc|health-sync)\.[cm]?[jt]s$/;
const NAMESPACE = 'runtime-sdk';

const GRPC_INDEX = /[\\/]@grpc[\\/]grpc-js[\\/]build[\\/]src[\\/]index\.js$/;
/** The server modules grpc-js's index requires, and the classes it exports from each. */
const GRPC_SERVER = {
  './server': ['Server'],
  './server-interceptors': ['ServerListenerBuilder', 'ResponderBuilder', 'ServerInterceptingCall'],
};
const SERVER_STUB = 'grpc-client-only';

const BUNDLE_PLUGINS = [
  {
    name: 'runtime-sdk',
    setup(build) {
      const entries = [].concat(build.initialOptions.entryPoints || []).map((e) => (typeof e === 'string' ? e : e.in));
      if (!entries.some((e) => LAZY_IN.test(e))) return;
      // The shim's own require of the SDK stays a require; any other import of it goes to the shim.
      build.onResolve({ filter: SDK }, (args) =>
        args.namespace === NAMESPACE ? { path: args.path, external: true } : { path: args.path, namespace: NAMESPACE },
      );
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  },
  {
    name: 'grpc-client-only',
    setup(build) {
      build.onResolve({ filter: /^\.\/server(-interceptors)?$/ }, (args) =>
        GRPC_INDEX.test(args.importer) ? { path: args.path, namespace: SERVER_STUB } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: SERVER_STUB }, (args) => ({
        contents: GRPC_SERVER[args.path]
          .map(
            (name) =>
              `exports.${name} = class ${name} { constructor() { throw new Error(${JSON.stringify(
                `@grpc/grpc-js ${name} is not in this bundle: the functions are gRPC clients (scripts/esbuild/plugins.cjs)`,
              )}); } };`,
          )
          .join('\n'),
        loader: 'js',
      }));
    },
  },
];

/**
 * The command that runs the pinned Node of the functions' Lambda runtime built for `arch` on this machine
 * (scripts/rie/runtime-node.ts: installed on first use; arm64 on x64 through qemu), or null when it cannot.
 */
function runtimeNode(arch) {
  const root = join(__dirname, '..', '..');
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'rie', 'runtime-node.ts'), '--arch', arch], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 900_000,
  });
  return JSON.parse(out.toString());
}

/** Node's name (process.arch) of a Lambda architecture. */
const NODE_ARCH = { arm64: 'arm64', x86_64: 'x64' };

/**
 * What each function's code cache is made with: its runtime's Node built for the architecture it runs on,
 * as Lambda starts it for its memory size; undefined when this machine cannot run that Node. V8 takes a
 * cache only on the architecture that made it: stage `local` runs here (serverless-offline, the
 * emulator), any other stage on the function's Lambda architecture, whose Node an x64 machine runs
 * under qemu for arm64. Where it cannot, the function ships without a cache (a notice says so) rather
 * than with one Lambda would skip.
 */
function runtimesOf(service) {
  const provider = service.provider || {};
  const nodes = new Map();
  const noticed = new Set();
  return (entry) => {
    const fn = functionOfEntry(entry, service.functions || {});
    if (!fn) throw new Error(`code-cache: no function in serverless.yml has its handler in ${entry}`);
    const architecture = fn.architecture || provider.architecture || 'x86_64';
    const arch = provider.stage === 'local' ? process.arch : NODE_ARCH[architecture];
    // Found, and its versions read, once per architecture: under qemu each start of Node costs about half a second.
    if (!nodes.has(arch)) {
      const command = runtimeNode(arch);
      const versions =
        command && JSON.parse(execFileSync(command[0], [...command.slice(1), '-p', 'JSON.stringify(process.versions)']).toString());
      nodes.set(arch, command && { command, versions });
    }
    const node = nodes.get(arch);
    if (!node) {
      if (!noticed.has(arch))
        console.error(
          `code-cache: stage ${provider.stage} runs on ${architecture}, whose Node this ${process.arch} machine cannot run: packaged without a V8 code cache (V8 uses one only on the architecture that made it); package on ${architecture} to ship one`,
        );
      noticed.add(arch);
      return undefined;
    }
    const runtime = fn.runtime || provider.runtime;
    const major = node.versions.node.split('.')[0];
    if (runtime !== `nodejs${major}.x`) {
      throw new Error(
        `code-cache: ${entry} runs on ${runtime}, but the pinned runtime Node is ${major} (scripts/rie/runtime-node.ts); package with CODE_CACHE=0`,
      );
    }
    return cacheRuntime(node.command, arch, node.versions, fn.memorySize || provider.memorySize || 1024);
  };
}

/** The esbuild plugins of the function bundles; with the serverless instance, the code cache too (unless CODE_CACHE=0). */
module.exports = (serverless) => {
  const mode = codeCacheMode(process.env.CODE_CACHE);
  if (!serverless || mode === 'off') return BUNDLE_PLUGINS;
  return [...BUNDLE_PLUGINS, codeCachePlugin(mode, runtimesOf(serverless.service))];
};
