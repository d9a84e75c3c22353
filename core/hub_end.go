package sse

import (
	"context"
	"errors"
)

// EndEvent is the type of the last event of a stream that [Hub.End]
// ended: its data is the reason given. A page that should not reconnect
// (after a logout, say) listens for it and closes its EventSource:
//
//	es.addEventListener("sse-end", (e) => { es.close(); show(e.data) })
//
// Otherwise the EventSource reconnects, as after any end of its stream,
// and the server's handler decides again (a revoked session gets 401, a
// changed role its new topics).
const EndEvent = "sse-end"

// ErrEnded reports, as the cause of a subscription's end (to
// [Hooks.OnDisconnect], say), that [Hub.End] ended it.
var ErrEnded = errors.New("sse: stream ended by Hub.End")

// End ends every stream subscribed to one of topics, on this hub and on
// every hub that shares its backend (several servers on one Redis, say):
// each receives the events published to its topics before, then an event
// of type [EndEvent] with data reason, and its subscription returns, which
// ends the stream. Streams that subscribe later are not ended.
//
// The topics are keys the application chooses: to end the streams of a
// user (logout, revoked access, a change of role), subscribe each of them
// to that user's topic too, say "user:42", and end that topic.
//
// End publishes the end as an event of the log, with an ID, so it obeys
// [Hub.Publish]'s rules and errors, and a client that resumes from before
// it (it was away when End ran) is ended again once it has replayed the
// events before it. Publishing an event of type EndEvent is the same as
// calling End. End is safe for concurrent use.
func (h *Hub) End(ctx context.Context, reason string, topics ...string) error {
	return h.Publish(ctx, Event{Type: EndEvent, Data: reason}, topics...)
}
