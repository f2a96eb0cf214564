# Default token of a Consul agent whose DNS interface serves discovery (acl.tokens.default):
# Consul 1.16 answers every DNS query with the agent's default token, so this token is what a
# DNS client can see. Read the catalog's services and nodes (SRV targets are node names or
# addresses) and nothing else: no K/V, no writes, no ACL or operator data.
# Note: the default token also applies to HTTP requests that carry no token, which therefore
# get the same read access; operators who expose the HTTP API widely should know this.
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
