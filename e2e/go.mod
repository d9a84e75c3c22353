module github.com/eventwire/sse/e2e

go 1.25.0

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/coder/websocket v1.8.15
	github.com/eventwire/sse v0.0.0-00010101000000-000000000000
	golang.org/x/net v0.57.0
)

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	golang.org/x/text v0.40.0 // indirect
)

replace github.com/eventwire/sse => ../
