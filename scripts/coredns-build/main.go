// Command coredns is CoreDNS with only the plugins the project's caching
// forwarder uses, so the build does not compile (or download) the cloud,
// Kubernetes and tracing plugins of the stock binary.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The stock order of these directives (core/dnsserver/zdirectives.go): a plugin
// sees the effect of every plugin after it, so cache must come before forward.
var directives = []string{"bind", "ready", "prometheus", "errors", "log", "cache", "forward"}

func main() {
	if err := dnsserver.SetDirectives(directives); err != nil {
		panic(err)
	}
	coremain.Run()
}
