package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eventwire/sse/e2e/internal/cases"
)

// chromium is a headless Chromium driven over the Chrome DevTools Protocol
// by chromedp.
type chromium struct {
	ctx context.Context // the tab's chromedp context
}

// startChromium starts a headless Chromium ($CHROMIUM or /usr/bin/chromium)
// with a fresh profile. It accepts any certificate: the tests make their
// own.
func startChromium(t *testing.T) browser {
	path := lookPath(t, "CHROMIUM", "/usr/bin/chromium", "chromium")
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("ignore-certificate-errors", true),
		// Containers often have a small /dev/shm.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(800, 600),
		// Without a user-data-dir flag the allocator makes a fresh one per
		// browser, kills what is left of the browser when it ends and then
		// removes the directory.
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Canceling the first tab's context kills the browser and waits for it;
	// it must run once only.
	cancel = sync.OnceFunc(cancel)
	t.Cleanup(cancel)

	// The first command starts the browser and binds its life to ctx, so it
	// cannot take a deadline of its own.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting Chromium: %v", err)
		}
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("Chromium did not start within %v", startTimeout)
	}
	// Close the browser gracefully first, so that it removes what it keeps
	// in the temporary directory; the cancel above kills what is left.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(ctx, closeTimeout)
		defer cancel()
		if err := chromedp.Cancel(ctx); err != nil {
			t.Logf("closing Chromium: %v", err)
		}
	})
	return &chromium{ctx: ctx}
}

func (c *chromium) navigate(ctx context.Context, url string) error {
	ctx, cancel := merge(c.ctx, ctx)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

func (c *chromium) eval(ctx context.Context, expr string) (string, error) {
	ctx, cancel := merge(c.ctx, ctx)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// merge returns the browser's context bounded by the deadline and the
// cancellation of ctx too: chromedp finds its browser through the context
// it is given.
func merge(browser, ctx context.Context) (context.Context, context.CancelFunc) {
	merged, cancel := context.WithCancel(browser)
	if d, ok := ctx.Deadline(); ok {
		merged, cancel = context.WithDeadline(browser, d)
	}
	stop := context.AfterFunc(ctx, cancel)
	return merged, func() { stop(); cancel() }
}

func (*chromium) engine() cases.Engine { return cases.Blink }
