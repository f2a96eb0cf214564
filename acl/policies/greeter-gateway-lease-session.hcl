# Session-mode lease of a gateway execution environment (leaseMode = session): create, renew and
# destroy its own TTL session, and hold one key under its lease prefix with it. Nothing else: no
# service registration, no other K/V path.
# A session belongs to the node of the agent that created it, and renewing or destroying it needs
# session write on that node, through whichever agent the request reaches: {{agentNodePrefix}} is
# the common prefix of the names of the agents the functions talk to ("" for every node).
session_prefix "{{agentNodePrefix}}" {
  policy = "write"
}
key_prefix "{{leasePrefix}}/{{leaseService}}/" {
  policy = "write"
}
