# One Consul service the rpc function may discover (one instance of this policy per mapped service).
service "{{service}}" {
  policy = "read"
}
