package ssepg

import (
	"context"
	"fmt"
	"strconv"

	sse "github.com/eventwire/sse/core"
)

// replayPage is how many rows one read of a replay returns.
const replayPage = 500

// find returns the position of the newest event whose ID is id (one the
// publisher chose, or the position itself for an event without one), or
// 0 if the table holds none.
func (b *Backend) find(ctx context.Context, id string) (int64, error) {
	var own *int64 // id read as a position, if it is one
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 && strconv.FormatInt(n, 10) == id {
		own = &n
	}
	var found *int64
	err := b.pool.QueryRow(ctx, `SELECT greatest(
		(SELECT max(pos) FROM `+b.t.quoted+` WHERE chosen_id = $1),
		(SELECT pos FROM `+b.t.quoted+` WHERE pos = $2 AND chosen_id IS NULL))`, id, own).Scan(&found)
	if err != nil || found == nil {
		return 0, err
	}
	return *found, nil
}

// Replay calls fn, in log order, for every event after the newest one
// whose ID is lastID (an ID the publisher chose, or else the event's
// position), and stops at the first error fn returns. If the table holds
// no such event (it was deleted by the history bounds, or never existed),
// Replay returns an error wrapping [sse.ErrUnknownID] without calling fn,
// and the hub sends the client an [sse.ResetEvent]. It reads the table in
// pages of 500 rows, each read in full before fn is called; should the
// history bounds delete the rest of the replay while it runs, it stops
// with an error wrapping [sse.ErrUnknownID] too. Database errors are
// returned as they are: the client's stream ends and its EventSource
// tries again.
func (b *Backend) Replay(ctx context.Context, lastID string, fn func(sse.Message) error) error {
	start, err := b.find(ctx, lastID)
	if err != nil {
		return fmt.Errorf("ssepg: replay after %q: %w", lastID, err)
	}
	if start == 0 {
		return fmt.Errorf("%w: %q", sse.ErrUnknownID, lastID)
	}
	// Each page starts at the last row of the one before, inclusive: if
	// that row is still there, nothing after it has been deleted.
	from := start
	for {
		page, err := readAfter(ctx, b.pool, b.t, from, replayPage+1)
		if err != nil {
			return fmt.Errorf("ssepg: replay after %q: %w", lastID, err)
		}
		if len(page) == 0 || page[0].pos != from {
			if from == start {
				return fmt.Errorf("%w: %q", sse.ErrUnknownID, lastID)
			}
			return fmt.Errorf("%w: the history was trimmed past position %d during the replay", sse.ErrUnknownID, from)
		}
		for _, r := range page[1:] {
			if err := fn(r.msg); err != nil {
				return err
			}
		}
		if len(page) <= replayPage {
			return nil
		}
		from = page[len(page)-1].pos
	}
}
