package sse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// report hands err, an error after the stream started, to the error
// handler of [WithErrorHandler] or, by default, logs it with slog's default
// logger unless the client left.
func (c *config) report(r *http.Request, err error) {
	if c.onError != nil {
		c.onError(r, err)
		return
	}
	if errors.Is(err, ErrClosed) {
		return
	}
	ctx := context.Background()
	attrs := []slog.Attr{slog.Any("err", err)}
	if r != nil {
		ctx = r.Context()
		attrs = append(attrs, slog.String("method", r.Method))
		if r.URL != nil {
			attrs = append(attrs, slog.String("path", r.URL.Path))
		}
	}
	level, msg := slog.LevelError, "sse: stream failed"
	if errors.Is(err, ErrNoWriteDeadline) {
		level, msg = slog.LevelWarn, "sse: stream has no write deadline"
	}
	slog.Default().LogAttrs(ctx, level, msg, attrs...)
}

// checkDeadline reports whether rc can take a write deadline. If it cannot,
// the first stream of the reporting scope reports [ErrNoWriteDeadline],
// naming the innermost writer that w unwraps to. Clearing the deadline is
// the probe: it changes nothing on a writer that supports one.
func (c *config) checkDeadline(w http.ResponseWriter, rc *http.ResponseController, r *http.Request) bool {
	if !errors.Is(rc.SetWriteDeadline(time.Time{}), http.ErrNotSupported) {
		return true
	}
	if c.noDeadline.CompareAndSwap(false, true) {
		inner := w
		for {
			u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
			if !ok {
				break
			}
			inner = u.Unwrap()
		}
		c.report(r, fmt.Errorf("%w: %T has neither a deadline nor an Unwrap method; a client that stops reading is not dropped", ErrNoWriteDeadline, inner))
	}
	return false
}
