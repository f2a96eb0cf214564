# One exact service whose TTL checks the health-sync probe may set: that name only, no prefix,
# so probing `greeter` does not also reach `greeter-gateway-lambda` (a lease) or `greeterx`.
service "{{service}}" {
  policy = "write"
}
