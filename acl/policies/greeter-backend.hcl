# Token of a Greeter backend: register and deregister itself through its local agent.
# With --connect the same write also gets its Connect leaf certificate
# (/v1/agent/connect/ca/leaf/{{greeterService}}) and lets it ask the agent whether a caller
# may call it (/v1/agent/connect/authorize with Target={{greeterService}}).
service "{{greeterService}}" {
  policy = "write"
}
