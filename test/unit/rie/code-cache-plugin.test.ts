// Which functions the code-cache plugin makes a cache for (scripts/esbuild/plugins.cjs, code-cache.cjs):
// only for the architecture the package will run on, so a package for another architecture made where
// that architecture's Node cannot run (here: emulation turned off) stays the plain ES module bundle
// instead of shipping a cache Lambda would skip. The serverless service
// is a plain object here and the esbuild build a recording stand-in: the choice is made before any build.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Plugin, PluginBuild } from 'esbuild';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the plugins file is CommonJS, as serverless-esbuild loads it
const pluginsFor = require('../../../scripts/esbuild/plugins.cjs') as (serverless?: unknown) => Plugin[];

// The plugin asks scripts/rie/runtime-node.ts for the runtime's Node; RUNTIME_NODE makes that this Node,
// so no download happens in a unit test (the runtime named below follows it).
process.env.RUNTIME_NODE = process.execPath;
// And no emulator either: this machine then cannot run Node built for another architecture.
process.env.RUNTIME_NODE_EMULATION = '0';
const RUNTIME = `nodejs${process.versions.node.split('.')[0]}.x`;

const OTHER_ARCH = process.arch === 'arm64' ? 'x86_64' : 'arm64';
const THIS_ARCH = process.arch === 'arm64' ? 'arm64' : 'x86_64';

function serviceOn(stage: string, architecture: string) {
  return {
    service: {
      provider: { stage, architecture, runtime: RUNTIME, memorySize: 128 },
      functions: { greet: { handler: 'functions/greet.handler' } },
    },
  };
}

/** Runs the code-cache plugin's setup on a recording build of functions/greet.ts; what it did to the options. */
function setUp(serverless: unknown): { format: string | undefined; banner: unknown; onEnd: number } {
  const plugin = pluginsFor(serverless).find((p) => p.name === 'code-cache');
  assert.ok(plugin, 'the code-cache plugin is in the list');
  const initialOptions: Record<string, unknown> = { entryPoints: ['functions/greet.ts'], format: 'esm', banner: { js: '/* banner */' } };
  let onEnd = 0;
  const build = { initialOptions, onEnd: () => void onEnd++ } as unknown as PluginBuild;
  void plugin.setup(build);
  return { format: initialOptions.format as string | undefined, banner: initialOptions.banner, onEnd };
}

describe('code-cache plugin: the architecture the package runs on', () => {
  it('is left out of the list without the serverless service (tools that bundle on their own)', () => {
    assert.deepEqual(
      pluginsFor().map((p) => p.name),
      ['runtime-sdk', 'grpc-client-only'],
    );
  });

  it(`packages stage local (this machine: the emulator, serverless-offline) with the cache, whatever the functions' architecture`, () => {
    const r = setUp(serviceOn('local', OTHER_ARCH));
    assert.deepEqual([r.format, r.banner, r.onEnd], ['cjs', undefined, 1]);
  });

  it(`packages a deployed stage for ${THIS_ARCH} on this ${process.arch} machine with the cache`, () => {
    const r = setUp(serviceOn('prod', THIS_ARCH));
    assert.deepEqual([r.format, r.onEnd], ['cjs', 1]);
  });

  it(`leaves a deployed stage for ${OTHER_ARCH} the plain ES module bundle when this machine cannot run its Node`, () => {
    const r = setUp(serviceOn('prod', OTHER_ARCH));
    assert.deepEqual([r.format, r.banner, r.onEnd], ['esm', { js: '/* banner */' }, 0]);
  });
});
