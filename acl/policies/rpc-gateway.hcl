# Token of the rpc function (the generic HTTP route): read its own config. The services it may
# discover are granted one by one (rpc-gateway-service.hcl, one policy per mapped Consul service);
# its lease and Connect identity come from the lease policies, as the greet function's do.
key_prefix "{{configPrefix}}" {
  policy = "read"
}
# /v1/health/service filters out entries whose node the token cannot read.
node_prefix "" {
  policy = "read"
}
