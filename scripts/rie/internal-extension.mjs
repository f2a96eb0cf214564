// Preloaded into the runtime process (`node --import <this file> <ric>/index.mjs`) by
// scripts/rie/lambda-rie.ts: registers an *internal* Lambda extension that subscribes to
// no event, as an APM agent or a layer's wrapper would. Like Lambda, the emulator sends
// the runtime SIGTERM at shutdown only when an extension is registered; without one it
// SIGKILLs the runtime. This file changes nothing else in the function's process.
//
// Registration must finish before the runtime client asks for its first event (the
// emulator closes registration then), so this module awaits it at top level, which
// Node awaits before it loads the main entry. The extension then reports ready with one
// `event/next` call that never answers (it subscribed to nothing); the socket is unref'd
// so it never keeps the process alive.
import { request } from 'node:http';

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const name = process.env.RIE_INTERNAL_EXTENSION_NAME || 'consul-grpc-lambda-sigterm';

function call(method, path, headers, body, { unref = false } = {}) {
  return new Promise((resolve, reject) => {
    const [host, port] = api.split(':');
    const req = request({ host, port: Number(port), method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (unref) req.on('socket', (s) => s.unref());
    if (body !== undefined) req.write(body);
    req.end();
  });
}

if (api) {
  const res = await call(
    'POST',
    '/2020-01-01/extension/register',
    { 'Lambda-Extension-Name': name, 'content-type': 'application/json' },
    JSON.stringify({ events: [] }),
  );
  const id = res.headers['lambda-extension-identifier'];
  if (res.status !== 200 || typeof id !== 'string') {
    console.error(`internal extension ${name}: register answered ${res.status} ${res.text}`);
  } else {
    // Ready: the emulator's init waits for every registered extension to call next once.
    call('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id }, undefined, { unref: true }).catch(
      () => undefined,
    );
    console.error(`internal extension ${name} registered`);
  }
}
