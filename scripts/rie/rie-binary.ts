/**
 * Finds or builds the pinned AWS Lambda Runtime Interface Emulator (aws-lambda-rie),
 * the Go program that plays the Lambda service around one execution environment:
 * it serves the Runtime API to the runtime client, the Invoke API to us, and prints
 * Lambda's START / END / REPORT lines.
 *
 * Like grpcurl and Consul, it is built from the Go module proxy through a helper
 * module (scripts/rie-build/) whose committed go.sum checks every download, and cached
 * under ~/.cache/consul-grpc-lambda/ so a machine builds it once (about 50 s on 2 cores
 * with an empty Go module cache). The module has no semver tags, so the pin is the
 * pseudo-version in scripts/rie-build/go.mod.
 *
 * The binary has no help or version flag: any run starts the emulator, and without
 * `--runtime-interface-emulator-address` it listens on 0.0.0.0:8080. So it is never run
 * to check it; a stamp file written after a good build names the version instead.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ensurePinnedGoTool, pinnedModuleVersion, type PinnedGoTool } from '../tool-cache';

const BUILD_MODULE_DIR = resolve(__dirname, '..', 'rie-build');
const RIE_MODULE = 'github.com/aws/aws-lambda-runtime-interface-emulator';

/** The pinned emulator version (a Go pseudo-version, as required in scripts/rie-build/go.mod). */
export const RIE_VERSION = pinnedModuleVersion(BUILD_MODULE_DIR, RIE_MODULE);

const stampOf = (bin: string) => `${bin}.version`;

const RIE: PinnedGoTool = {
  name: 'aws-lambda-rie',
  label: 'aws-lambda-rie',
  version: RIE_VERSION,
  envVar: 'AWS_LAMBDA_RIE_BIN',
  buildDir: BUILD_MODULE_DIR,
  pkg: `${RIE_MODULE}/cmd/aws-lambda-rie`,
  buildTime: 'about a minute on 2 cores',
  isPinned: (bin) => {
    try {
      return statSync(bin).size > 0 && readFileSync(stampOf(bin), 'utf8').trim() === RIE_VERSION;
    } catch {
      return false;
    }
  },
  afterBuild: (bin) => writeFileSync(stampOf(bin), `${RIE_VERSION}\n`),
};

/** Returns the path of the pinned aws-lambda-rie ($AWS_LAMBDA_RIE_BIN if set), building and caching it when missing. */
export function ensureRieBinary(log: (line: string) => void = () => {}): string {
  return ensurePinnedGoTool(RIE, log);
}

if (require.main === module) {
  const bin = ensureRieBinary((l) => console.error(l));
  console.log(bin);
}
