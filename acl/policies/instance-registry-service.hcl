# One exact service the instance registry may register (allowedServices): that name only,
# no prefix, so an operator opening `greeter` does not also open `greeter-gateway-lambda`.
service "{{service}}" {
  policy = "write"
}
