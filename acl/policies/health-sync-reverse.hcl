# Reverse sync of one Cloud Map service: write it as an external service on the synthetic node.
node "{{reverseNode}}" {
  policy = "write"
}
service "{{service}}" {
  policy = "write"
}
