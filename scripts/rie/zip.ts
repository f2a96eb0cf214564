/**
 * Extracts a deployment zip (what `serverless package` writes) into a folder, as
 * Lambda does into /var/task. Python's own zipfile module does the work: python3
 * is already a requirement of the project (moto), and no `unzip` binary is needed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';

/** Extracts `zipPath` into `destDir`; returns the relative paths of the files written. */
export function extractZip(zipPath: string, destDir: string): string[] {
  mkdirSync(destDir, { recursive: true });
  // zipfile refuses members whose names would escape destDir (absolute paths, "..").
  execFileSync('python3', ['-m', 'zipfile', '-e', zipPath, destDir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  return readdirSync(destDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${e.parentPath.slice(destDir.length + 1)}${e.parentPath.length > destDir.length ? '/' : ''}${e.name}`);
}
