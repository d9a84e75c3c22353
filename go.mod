module github.com/eventwire/sse

go 1.25.0
