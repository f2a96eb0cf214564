# Token of the instance registry (the `instances` function). Service writes come from one
# instance-registry-prefix policy per allowed prefix; here: its config (read), its idempotency records, its
# own execution-environment lease, its quota reservations, and node reads for health listings.
key_prefix "{{configPrefix}}" {
  policy = "read"
}
key_prefix "registry/idempotency/" {
  policy = "write"
}
# Per-API-key quota reservations (registrations in flight), written with check-and-set.
key_prefix "registry/quota/" {
  policy = "write"
}
service "{{leaseService}}" {
  policy = "write"
}
node_prefix "" {
  policy = "read"
}
