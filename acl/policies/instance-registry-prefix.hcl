# One allowed service prefix of the instance registry: register, renew and remove services
# whose names start with it, and nothing else.
service_prefix "{{servicePrefix}}" {
  policy = "write"
}
