package sseredis

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
)

// replayPage is how many entries one read of a replay returns.
const replayPage = 500

// findScript finds the entry a Last-Event-ID names. KEYS[1] is the stream
// and KEYS[2] the index of chosen IDs (see publishScript); ARGV[1] is the
// ID, and ARGV[2] is "1" if it has the form of an entry ID. It returns
// the entry whose own ID it is, provided the entry carries no chosen ID,
// and the newest entry published with it as its chosen ID; either is
// empty when there is none.
var findScript = redis.NewScript(`
local function chosenOf(fields)
	for i = 1, #fields, 2 do
		if fields[i] == 'i' and fields[i + 1] ~= '' then
			return fields[i + 1]
		end
	end
	return false
end
local own, chosen = '', ''
if ARGV[2] == '1' then
	local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])[1]
	if e and not chosenOf(e[2]) then
		own = e[1]
	end
end
local at = redis.call('HGET', KEYS[2], ARGV[1])
if at then
	local e = redis.call('XRANGE', KEYS[1], at, at)[1]
	if e and chosenOf(e[2]) == ARGV[1] then
		chosen = at
	end
end
return {own, chosen}
`)

// find returns the ID of the newest entry whose event ID is id, or "" if
// the stream holds none.
func (b *Backend) find(ctx context.Context, id string) (string, error) {
	isEntryID := "0"
	if validID(id) {
		isEntryID = "1"
	}
	found, err := findScript.Run(ctx, b.client, []string{b.cfg.key, b.idsKey}, id, isEntryID).StringSlice()
	if err != nil {
		return "", err
	}
	if len(found) != 2 {
		return "", fmt.Errorf("sseredis: unexpected answer %q", found)
	}
	own, chosen := found[0], found[1]
	if own == "" || chosen != "" && idAfter(chosen, own) {
		return chosen, nil
	}
	return own, nil
}

// Replay calls fn, in stream order, for every entry after the newest one
// whose event ID is lastID (an ID the publisher chose, or else the
// entry's own), and stops at the first error fn returns. If the stream
// holds no such entry (it aged out, Redis lost it, or it never existed),
// Replay returns an error wrapping [sse.ErrUnknownID] without calling
// fn, and the hub sends the client an [sse.ResetEvent]. It reads the
// stream in pages of 500 entries; should the stream be trimmed past the
// replay while it runs, it stops with an error wrapping
// [sse.ErrUnknownID] too. Redis errors are returned as they are: the
// client's stream ends and its EventSource tries again.
func (b *Backend) Replay(ctx context.Context, lastID string, fn func(sse.Message) error) error {
	start, err := b.find(ctx, lastID)
	if err != nil {
		return fmt.Errorf("sseredis: replay after %q: %w", lastID, err)
	}
	if start == "" {
		return fmt.Errorf("%w: %q", sse.ErrUnknownID, lastID)
	}
	// Each page starts at the last entry of the one before, inclusive: if
	// that entry is still there, nothing after it has been trimmed.
	from := start
	for {
		page, err := b.client.XRangeN(ctx, b.cfg.key, from, "+", replayPage+1).Result()
		if err != nil {
			return fmt.Errorf("sseredis: replay after %q: %w", lastID, err)
		}
		if len(page) == 0 || page[0].ID != from {
			if from == start {
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
