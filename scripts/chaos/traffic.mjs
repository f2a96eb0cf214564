// Steady traffic for `npm run chaos`: loads the *packaged* greet bundle (as Lambda would, from an
// unzipped folder) in this process and invokes its handler back to back, printing one JSON line
// per invocation. `once` makes a single (cold) invocation and prints where its config came from.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [bundleDir, mode = 'loop'] = process.argv.slice(2);
// The bundle is an ES module (greet.mjs); a CommonJS build (greet.js) loads the same way.
const esm = join(bundleDir, 'functions', 'greet.mjs');
// Loading the bundle is Lambda's init phase; `once` reports it apart from the first invocation.
const importStart = performance.now();
const loaded = await import(pathToFileURL(existsSync(esm) ? esm : join(bundleDir, 'functions', 'greet.js')).href);
const { handler, runtime } = loaded.handler ? loaded : loaded.default;
const importMs = performance.now() - importStart;

// The source that holds the local greeter watch's list (consul, dns, or a fallback such as cloudmap),
// as /status shows it; absent before the runtime exists.
function servedBy() {
  const rt = runtime.peek();
  if (!rt) return undefined;
  const watch = rt.watches.all().find((w) => w.snapshot().query.datacenter === undefined);
  return watch ? rt.discovery.servedBy(watch.snapshot().query) : undefined;
}

let seq = 0;
const event = () => ({
  version: '2.0',
  routeKey: 'GET /hello/{name}',
  rawPath: `/hello/c${seq}`,
  rawQueryString: '',
  headers: {},
  pathParameters: { name: `c${seq}` },
  isBase64Encoded: false,
  requestContext: { http: { method: 'GET', path: `/hello/c${seq}`, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'chaos' } },
});
const context = () => {
  const end = Date.now() + 10_000;
  return {
    functionName: 'greet',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:0:function:greet',
    memoryLimitInMB: '256',
    awsRequestId: `chaos-${seq}`,
    logGroupName: 'chaos',
    logStreamName: 'chaos',
    getRemainingTimeInMillis: () => end - Date.now(),
  };
};

async function invoke() {
  seq++;
  const t0 = performance.now();
  const res = await handler(event(), context());
  const ms = performance.now() - t0;
  const body = JSON.parse(res.body ?? '{}');
  return {
    t: Date.now(),
    ms,
    status: res.statusCode,
    attempts: body.attempts,
    dc: body.servedBy?.datacenter,
    code: body.error?.code,
    src: servedBy(),
  };
}

if (mode === 'once') {
  const r = await invoke();
  // performance.now() counts from this process's start: process start → this answer.
  const sinceStartMs = performance.now();
  const loaded = runtime.peek()?.config.current();
  process.stdout.write(
    `${JSON.stringify({ ...r, configSource: loaded?.sources.callDeadlineMs, stale: loaded?.freshness?.stale ?? null, importMs, sinceStartMs })}\n`,
  );
  process.exit(0);
}

let stopping = false;
process.on('SIGTERM', () => (stopping = true));
while (!stopping) {
  // Wait for the pipe when it is full: a tight loop of fast answers must not lose lines at exit.
  if (!process.stdout.write(`${JSON.stringify(await invoke())}\n`)) await new Promise((r) => process.stdout.once('drain', r));
  // Lambda gives the event loop a turn between invocations; an answer that needed no I/O must not
  // starve the sockets (discovery polls) of this process.
  await new Promise((r) => setImmediate(r));
}
process.exit(0);
