module github.com/eventwire/sse/bench

go 1.25.0

require (
	github.com/eventwire/sse v0.0.0
	github.com/r3labs/sse/v2 v2.10.0
	github.com/tmaxmax/go-sse v0.11.0
)

require (
	golang.org/x/net v0.57.0 // indirect
	gopkg.in/cenkalti/backoff.v1 v1.1.0 // indirect
)

replace github.com/eventwire/sse => ../
