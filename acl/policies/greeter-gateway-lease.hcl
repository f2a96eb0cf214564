# Lease of a gateway execution environment: write only its own lease service, nothing else.
# With greeterTransport=connect and gatewayIdentity empty, the same write gets the gateway's
# Connect leaf certificate (/v1/agent/connect/ca/leaf/{{leaseService}}): the lease service
# name is the gateway's Connect identity, the source of its intentions.
service "{{leaseService}}" {
  policy = "write"
}
