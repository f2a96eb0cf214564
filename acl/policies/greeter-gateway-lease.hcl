# Lease of a gateway execution environment: write only its own lease service, nothing else.
service "{{leaseService}}" {
  policy = "write"
}
