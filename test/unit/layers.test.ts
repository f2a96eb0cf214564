import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ICruiseResult, IConfiguration } from 'dependency-cruiser';

// The real rules, cruised over a throw-away tree of one-line modules: a bad import is written on purpose into a
// temp dir (never into lib/), and each must be refused by the rule named for it, while the allowed arrows pass.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the config is the CommonJS file the CLI reads
const config = require('../../.dependency-cruiser.cjs') as IConfiguration;

/** from → to, both as lib/<folder>/<file>; `rule` is the rule that must refuse it, or null when it must pass. */
interface Arrow {
  from: string;
  to: string;
  rule: string | null;
}

const ADAPTERS = ['consul', 'discovery', 'grpc', 'cloudmap', 'config', 'lease', 'connect'];

const arrows: Arrow[] = [
  // The bad imports the architecture rules out first.
  { from: 'cloudmap', to: 'consul', rule: 'cloudmap-stands-alone' },
  { from: 'grpc', to: 'lease', rule: 'grpc-imports-discovery-consul' },
  { from: 'lease', to: 'grpc', rule: 'lease-imports-config-consul' },
  ...ADAPTERS.map((a) => ({ from: 'http', to: a, rule: 'http-over-use-cases' })),
  // The other arrows each allow-list refuses.
  { from: 'discovery', to: 'cloudmap', rule: 'discovery-imports-consul-only' },
  { from: 'discovery', to: 'grpc', rule: 'discovery-imports-consul-only' },
  { from: 'grpc', to: 'config', rule: 'grpc-imports-discovery-consul' },
  { from: 'config', to: 'lease', rule: 'config-imports-consul-only' },
  { from: 'lease', to: 'discovery', rule: 'lease-imports-config-consul' },
  { from: 'connect', to: 'discovery', rule: 'connect-imports-consul-only' },
  { from: 'consul', to: 'discovery', rule: 'consul-imports-kernel-only' },
  { from: 'cloudmap', to: 'discovery', rule: 'cloudmap-stands-alone' },
  { from: 'grpc', to: 'greeter', rule: 'grpc-imports-discovery-consul' },
  { from: 'util', to: 'consul', rule: 'kernel-is-a-leaf' },
  { from: 'tracing', to: 'http', rule: 'kernel-is-a-leaf' },
  { from: 'widgets', to: 'util', rule: 'lib-folder-has-a-layer' },
  // The documented chains, which must pass.
  { from: 'grpc', to: 'discovery', rule: null },
  { from: 'grpc', to: 'consul', rule: null },
  { from: 'discovery', to: 'consul', rule: null },
  { from: 'lease', to: 'config', rule: null },
  { from: 'lease', to: 'consul', rule: null },
  { from: 'config', to: 'consul', rule: null },
  { from: 'connect', to: 'consul', rule: null },
  { from: 'cloudmap', to: 'util', rule: null },
  { from: 'consul', to: 'errors', rule: null },
  { from: 'grpc', to: 'tracing', rule: null },
  { from: 'http', to: 'greeter', rule: null },
  { from: 'http', to: 'runtime', rule: null },
  { from: 'http', to: 'tracing', rule: null },
  { from: 'greeter', to: 'cloudmap', rule: null },
  { from: 'runtime', to: 'lease', rule: null },
];

// The HTTP edge's error table has no exception: it reaches the config and Consul errors through the runtime,
// which may re-export them (lib/runtime/runtime-errors.ts), and never their adapters' modules.
const files: Arrow[] = [
  ...arrows.map((a) => ({ from: `lib/${a.from}/to-${a.to}.ts`, to: `lib/${a.to}/target.ts`, rule: a.rule })),
  { from: 'lib/http/to-consul-errors.ts', to: 'lib/consul/errors.ts', rule: 'http-over-use-cases' },
  { from: 'lib/http/to-config-errors.ts', to: 'lib/config/errors.ts', rule: 'http-over-use-cases' },
  { from: 'lib/http/to-grpc-errors.ts', to: 'lib/grpc/errors.ts', rule: 'http-over-use-cases' },
  { from: 'lib/http/to-runtime-errors.ts', to: 'lib/runtime/runtime-errors.ts', rule: null },
  { from: 'lib/runtime/to-consul-errors.ts', to: 'lib/consul/errors.ts', rule: null },
];

describe('layer rules (.dependency-cruiser.cjs)', () => {
  let dir = '';
  let result: ICruiseResult;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'layers-'));
    const write = (path: string, text: string) => {
      mkdirSync(join(dir, dirname(path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    for (const f of files) {
      write(f.to, 'export const target = 1;\n');
      const spec = `../${f.to.split('/').slice(1).join('/').replace(/\.ts$/, '')}`;
      write(f.from, `import { target } from '${spec}';\nexport const value = target;\n`);
    }
    // dependency-cruiser is an ES module; this test file is CommonJS.
    const { cruise } = await import('dependency-cruiser');
    const out = await cruise(['lib'], {
      validate: true,
      ruleSet: { forbidden: config.forbidden },
      baseDir: dir,
      tsPreCompilationDeps: true,
    });
    assert.equal(typeof out.output, 'object');
    result = out.output as ICruiseResult;
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const f of files) {
    it(`${f.from} → ${f.to} is ${f.rule ? `refused by ${f.rule}` : 'allowed'}`, () => {
      const edge = result.modules.find((m) => m.source === f.from)?.dependencies.find((d) => d.resolved === f.to);
      assert.ok(edge, `the cruise saw the import ${f.from} → ${f.to}`);
      const rules = result.summary.violations.filter((v) => v.from === f.from && v.to === f.to).map((v) => v.rule.name);
      assert.deepEqual(rules, f.rule ? [f.rule] : []);
    });
  }

  it('refuses nothing but the arrows meant to be refused', () => {
    // A bad arrow reverses an allowed one, so the tree has folder cycles too; those are the cycle rules' business.
    const layered = result.summary.violations.filter((v) => !v.rule.name.startsWith('no-circular-'));
    const expected = files.filter((f) => f.rule).length;
    assert.equal(layered.length, expected, JSON.stringify(layered.map((v) => [v.from, v.to, v.rule.name])));
  });
});
