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
 * code-cache: only with CODE_CACHE=1 (or eager) in the packaging environment; off by default because a
 * V8 code cache differs on every package (code-cache.cjs says why).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: serverless-esbuild require()s the plugins */
const { codeCacheMode, codeCachePlugin } = require('./code-cache.cjs');

const CODE_CACHE = codeCacheMode(process.env.CODE_CACHE);

const SDK = /^@aws-sdk\/client-servicediscovery$/;
const LAZY_IN = /functions[\\/](greet|status|rpc|health-sync)\.[cm]?[jt]s$/;
const NAMESPACE = 'runtime-sdk';

module.exports = [
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
  // Last, and opt-in: it turns the finished bundle into bundle + V8 code cache + ES module handler (code-cache.cjs).
  ...(CODE_CACHE === 'off' ? [] : [codeCachePlugin(CODE_CACHE)]),
];
