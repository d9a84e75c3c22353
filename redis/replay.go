package sseredis

import (
	"context"
	"fmt"

	sse "github.com/eventwire/sse/core"
)

// replayPage is how many entries one read of a replay returns.
const replayPage = 500

// Replay calls fn, in stream order, for every entry after the one with ID
// lastID, and stops at the first error fn returns. If lastID is not a
// stream ID or the stream no longer holds it (it aged out, or Redis lost
// it), Replay returns an error wrapping [sse.ErrUnknownID] without calling
// fn, and the hub sends the client an [sse.ResetEvent]. It reads the
// stream in pages of 500 entries; should the stream be trimmed past the
// replay while it runs, it stops with an error wrapping
// [sse.ErrUnknownID] too. Redis errors are returned as they are: the
// client's stream ends and its EventSource tries again.
func (b *Backend) Replay(ctx context.Context, lastID string, fn func(sse.Message) error) error {
	if !validID(lastID) {
		return fmt.Errorf("%w: %q is not a Redis stream ID", sse.ErrUnknownID, lastID)
	}
	// Each page starts at the last entry of the one before, inclusive: if
	// that entry is still there, nothing after it has been trimmed.
	from := lastID
	for {
		page, err := b.client.XRangeN(ctx, b.cfg.key, from, "+", replayPage+1).Result()
		if err != nil {
			return fmt.Errorf("sseredis: replay after %q: %w", lastID, err)
		}
		if len(page) == 0 || page[0].ID != from {
			if from == lastID {
				return fmt.Errorf("%w: %q", sse.ErrUnknownID, lastID)
			}
			return fmt.Errorf("%w: the history was trimmed past %q during the replay", sse.ErrUnknownID, from)
		}
		for _, m := range page[1:] {
			msg, ok := b.decode(m)
			if !ok {
				continue
			}
			if err := fn(msg); err != nil {
				return err
			}
		}
		if len(page) <= replayPage {
			return nil
		}
		from = page[len(page)-1].ID
	}
}
