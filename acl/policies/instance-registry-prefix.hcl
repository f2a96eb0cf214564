# One allowed service prefix of the instance registry: register, renew and remove services
# whose names start with it, and nothing else. The prefix always ends with "-" (a word
# boundary, enforced by registryPolicies): "greeter" would also reach "greeter" itself and
# "greeter-gateway-lambda", services the registry does not own.
service_prefix "{{servicePrefix}}" {
  policy = "write"
}
