/**
 * A variant of a packaged CommonJS function whose handler is a one-line CommonJS entry file
 * that `require`s the bundle. The Lambda Node runtime client loads a handler with `import()`;
 * for a CommonJS file Node then runs its CJS export lexer over the whole source first (to find
 * named exports), which on a 1+ MB minified bundle costs more than the require itself. The shim
 * is lexed instead (a few bytes, an explicit named export, no re-export to follow), and the
 * bundle is loaded by plain `require`. bench/cold-start/ measures both ways.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { PackagedFunction } from '../../scripts/rie/package-functions';
import { extractZip } from '../../scripts/rie/zip';

/** The shimmed function and a way to delete its files. */
export interface ShimmedFunction {
  fn: PackagedFunction;
  remove(): void;
}

/** Repackages `fn` (a CommonJS bundle `<module>.js`) with `<module>-entry.js` as its handler module; undefined if it is not a .js bundle. */
export function withEntryShim(fn: PackagedFunction): ShimmedFunction | undefined {
  const dot = fn.handler.lastIndexOf('.');
  const modulePath = fn.handler.slice(0, dot);
  const exportName = fn.handler.slice(dot + 1);
  if (!/^[A-Za-z_$][\w$]*$/.test(exportName)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), `consul-grpc-lambda-shim-${fn.name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const root = join(dir, 'root');
    extractZip(fn.zip, root);
    if (!existsSync(join(root, `${modulePath}.js`))) {
      remove();
      return undefined;
    }
    const name = basename(modulePath);
    writeFileSync(join(root, `${modulePath}-entry.js`), `"use strict";\nexports.${exportName} = require("./${name}.js").${exportName};\n`);
    const zip = join(dir, `${fn.name}-shim.zip`);
    // Python's zipfile, as scripts/rie/zip.ts extracts with: each top-level entry is stored under its own name.
    execFileSync('python3', ['-m', 'zipfile', '-c', zip, ...readdirSync(root)], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 60_000,
    });
    return { fn: { ...fn, name: `${fn.name}+shim`, zip, handler: `${modulePath}-entry.${exportName}` }, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
