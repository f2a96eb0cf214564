/**
 * The per-invocation environment (Lambda's X-Ray trace header, the trace-propagation switch) for the
 * HTTP edge, which reaches lib/config only through the runtime layer. Read once per invocation.
 */
export { readInvocationEnvironment, type InvocationEnvironment } from '../config/environment';
