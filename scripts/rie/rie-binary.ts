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
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { goBuild, pinnedModuleVersion, toolCacheDir } from '../tool-cache';

const BUILD_MODULE_DIR = resolve(__dirname, '..', 'rie-build');
const RIE_MODULE = 'github.com/aws/aws-lambda-runtime-interface-emulator';

/** The pinned emulator version (a Go pseudo-version, as required in scripts/rie-build/go.mod). */
export const RIE_VERSION = pinnedModuleVersion(BUILD_MODULE_DIR, RIE_MODULE);

/** Directory that holds the cached binary for the pinned version. */
export function rieCacheDir(): string {
  return toolCacheDir('aws-lambda-rie', RIE_VERSION);
}

const stampOf = (bin: string) => `${bin}.version`;

function isCached(bin: string): boolean {
  try {
    return statSync(bin).size > 0 && readFileSync(stampOf(bin), 'utf8').trim() === RIE_VERSION;
  } catch {
    return false;
  }
}

/** Returns the path of the pinned aws-lambda-rie ($AWS_LAMBDA_RIE_BIN if set), building and caching it when missing. */
export function ensureRieBinary(log: (line: string) => void = () => {}): string {
  if (process.env.AWS_LAMBDA_RIE_BIN) return process.env.AWS_LAMBDA_RIE_BIN;
  const cached = join(rieCacheDir(), 'aws-lambda-rie');
  if (isCached(cached)) return cached;

  log(`building aws-lambda-rie ${RIE_VERSION} from the Go module proxy (first time only, about a minute on 2 cores)…`);
  goBuild(BUILD_MODULE_DIR, `${RIE_MODULE}/cmd/aws-lambda-rie`, cached);
  writeFileSync(stampOf(cached), `${RIE_VERSION}\n`);
  if (!existsSync(cached)) throw new Error(`built aws-lambda-rie but ${cached} is missing`);
  log(`aws-lambda-rie cached at ${cached}`);
  return cached;
}

if (require.main === module) {
  const bin = ensureRieBinary((l) => console.error(l));
  console.log(bin);
}
