# Token of a Greeter backend: register and deregister itself through its local agent.
service "{{greeterService}}" {
  policy = "write"
}
