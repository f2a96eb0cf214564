/**
 * The errors every function's runtime may raise, whatever its use case: ConfigError (a bad environment,
 * secret or K/V config) and the Consul errors (ConsulRequestError with its timeout and TLS subclasses, and
 * ConsulAddressError for a CONSUL_HTTP_ADDR that cannot be used). The HTTP edge maps them from here, so it
 * names no adapter module itself.
 */
export { ConfigError, type ConfigErrorKind } from '../config/errors';
export { ConsulAddressError, ConsulRequestError, type ConsulErrorKind } from '../consul/errors';
