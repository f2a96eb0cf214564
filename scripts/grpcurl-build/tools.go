//go:build tools

// Package tools pins the grpcurl main package so `go mod tidy` records its
// whole dependency graph in go.sum.
package tools

import _ "github.com/fullstorydev/grpcurl/cmd/grpcurl"
