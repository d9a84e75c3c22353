// Package backoff has the waits between attempts that the backends of this
// repository share (the Redis and Postgres modules import it by path, as
// Go allows for internal packages): exponential, capped, with jitter.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay returns the wait before attempt n+1 after n failures: minWait
// doubled n-1 times, capped at maxWait, with its upper half random, so
// that servers that failed together do not come back together.
func Delay(n int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for ; n > 1 && d < maxWait; n-- {
		d = min(2*d, maxWait)
		if d <= 0 { // overflowed
			d = maxWait
		}
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits for d and reports whether ctx is still alive.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
