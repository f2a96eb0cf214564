// One scheduled run of the *packaged* healthSync bundle, in its own process as Lambda would run it:
// it mirrors Consul's passing instances into Cloud Map (moto here). Prints the run's report as one
// JSON line; the environment (Consul address, its least-privilege token, config prefix) is the caller's.
import { pathToFileURL } from 'node:url';

const [bundleFile] = process.argv.slice(2);
const loaded = await import(pathToFileURL(bundleFile).href);
const { handler } = loaded.handler ? loaded : loaded.default;
const end = Date.now() + 60_000;
const report = await handler({}, { getRemainingTimeInMillis: () => end - Date.now() });
process.stdout.write(`${JSON.stringify({ report })}\n`);
process.exit(0);
