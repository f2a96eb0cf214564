# One service prefix whose TTL checks the health-sync probe may set.
service_prefix "{{servicePrefix}}" {
  policy = "write"
}
