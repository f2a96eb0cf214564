# Token of the health-sync job: read what it mirrors, hold its lock, keep its counters,
# renew its own lease. Writing probed checks comes from one health-sync-probe policy per prefix.
key_prefix "{{configPrefix}}" {
  policy = "read"
}
key_prefix "health-sync/" {
  policy = "write"
}
session_prefix "" {
  policy = "write"
}
node_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "read"
}
service "{{leaseService}}" {
  policy = "write"
}
