# Token of a Consul agent (acl.tokens.agent), as Consul's docs describe: update its own node's
# catalog entry and sync the services and checks registered on it. Nothing else: no K/V, no
# other node, no service writes (a service registered on the agent is written with the token of
# whoever registered it).
node "{{nodeName}}" {
  policy = "write"
}
service_prefix "" {
  policy = "read"
}
