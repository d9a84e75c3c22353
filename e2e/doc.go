// Package e2e holds the browser end-to-end tests. The same checks run in
// three engines, each driven over its own protocol by a small driver:
// Chromium over the Chrome DevTools Protocol (chromedp), Firefox over
// WebDriver BiDi (spoken directly over a WebSocket), and WebKit's
// MiniBrowser over W3C WebDriver (WebKitWebDriver, on an Xvfb display).
//
// The checks (TestBrowsers/<engine>/<h1|h2>/<direct|nginx>/<check>): every
// example server under ../examples serves a page that gets its events live
// and resumes after a crash and a Ctrl-C (the llm example's page instead
// posts a prompt with fetch and must show the streamed answer exactly, as
// its model generated it once, and its SSE parser must read a tricky
// stream however it is cut; the feed example's page, logged in as one
// user, must show exactly that user's notifications live and, on logout,
// the end's reason, its EventSource closed for good); the test server
// (internal/testserver, with the expectations in internal/cases) sends
// tricky encodings that must arrive exactly and injection attempts that
// must leave no trace, resumes a non-ASCII Last-Event-ID after a kill, and
// serves a hub that replays what a client missed and sends sse-reset when
// it cannot; an EventSource refused at an sse.Limit's cap gets sse-busy
// and connects by itself once there is room. Each runs over HTTP/1.1 and
// over HTTP/2 with a certificate the test makes, directly and (all but
// the limit) behind Debian's nginx (default buffering, a short read
// timeout, gzip). TestNginxControls shows that the proxied checks can
// fail.
//
// It is a module of its own so that the browser drivers never show up in
// the library's go.mod. Run it with
//
//	cd e2e && go test -race -count=1 ./...
//
// The browsers are found at $CHROMIUM (/usr/bin/chromium), $FIREFOX
// (/usr/bin/firefox-esr) and $WEBKIT_WEBDRIVER (/usr/bin/WebKitWebDriver)
// with $XVFB (/usr/bin/Xvfb), nginx at $NGINX (/usr/sbin/nginx). Without
// one, its tests skip, unless CI=true, where they fail.
package e2e
