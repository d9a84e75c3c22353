// Package e2e holds the browser end-to-end tests: each example server under
// ../examples is built, started on a loopback port and read by the native
// EventSource of a headless Chromium, which is driven over the Chrome
// DevTools Protocol.
//
// It is a module of its own so that the browser driver never shows up in the
// library's go.mod. Run it with
//
//	cd e2e && go test -race -count=1 ./...
//
// The tests look for Chromium at $CHROMIUM or /usr/bin/chromium. Without
// one they skip, unless CI=true, where they fail.
package e2e
