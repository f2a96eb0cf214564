# Token of the greet and status functions: read their own config, discover the Greeter.
# Nothing else: no writes, no other K/V prefix, no other service.
key_prefix "{{configPrefix}}" {
  policy = "read"
}
service "{{greeterService}}" {
  policy = "read"
}
# /v1/health/service filters out entries whose node the token cannot read.
node_prefix "" {
  policy = "read"
}
