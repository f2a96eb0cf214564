/**
 * How Lambda's managed Node.js runtime starts `node`, for what has to start it alike: the Lambda
 * emulator's runtime (scripts/rie/lambda-rie.ts) and the package step that makes the V8 code cache
 * (code-cache.cjs). V8 keys a code cache to its flags, heap sizes included, so a cache made under other
 * flags than the runtime's is rejected and the function compiles as without one.
 *
 * The bootstrap of the nodejs runtimes passes --expose-gc, --max-http-header-size=81920 (a Node option,
 * outside V8's key), and heap sizes from the function's memory: a tenth of it as new space, half of
 * that per semi-space, the rest as old space. Should AWS change these, a cache is rejected, never
 * misused (test/integration/code-cache.test.ts covers a rejected cache).
 */

/** The arguments Lambda's Node bootstrap gives `node` before the runtime client, for a function of `memoryMb`. */
function lambdaNodeArgs(memoryMb) {
  const mb = Number(memoryMb);
  if (!Number.isInteger(mb) || mb < 128) throw new Error(`a Lambda function's memory is an integer of at least 128 MB, got ${memoryMb}`);
  const newSpace = Math.floor(mb / 10);
  return [
    '--expose-gc',
    '--max-http-header-size=81920',
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${mb - newSpace}`,
  ];
}

module.exports = { lambdaNodeArgs };
