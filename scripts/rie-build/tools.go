//go:build tools

// Package tools pins the aws-lambda-rie main package so `go mod tidy` records its
// whole dependency graph in go.sum.
package tools

import _ "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
