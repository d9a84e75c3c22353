package sse

import (
	"context"
	"errors"
	"fmt"
)

// A Message is one published event as it travels through a [Backend]: the
// event (its payload already text, see [Event.Data]), the topics it was
// published to and the ID the backend gave it.
type Message struct {
	ID     string
	Topics []string
	Event  Event

	// Pos is the message's place in the log, set by the backend: unique in
	// the log and the same in every delivery and replay of the message. The
	// hub tells a replayed message from the same message delivered live by
	// it, since IDs chosen by publishers may repeat. A backend that leaves it
	// empty has it taken from ID.
	Pos string

	// Gap, set by a backend on a message that carries nothing else, says
	// that messages may have been lost before this point (the shared log
	// lost data, say): the hub sends a [ResetEvent] to every subscriber of
	// Topics, or to every subscriber if Topics is empty. In a replay it
	// ends the replay of a client subscribed to those topics with a
	// [ResetEvent]: a log that keeps a bounded history per topic reports
	// so the topics that let go of events after the client's ID.
	Gap bool
}

// Validate reports whether m can be published: it has a topic, its event
// passes the checks of [Event.AppendText], its payload is text in
// Event.Data (Bytes and JSON unset) and it does not set ClearID. [Hub.Publish]
// makes only such messages; every Backend calls Validate at the start of
// Publish, so a message handed to a backend directly is refused with the
// same errors, before anything is written.
func (m *Message) Validate() error {
	if len(m.Topics) == 0 {
		return ErrNoTopic
	}
	ev := m.Event
	ev.ID = m.ID // the ID that clients receive and send back
	if _, _, err := ev.validate(); err != nil {
		return err
	}
	switch {
	case ev.ClearID:
		return fmt.Errorf("%w: a published event keeps its ID; ClearID cannot be published", ErrInvalidID)
	case len(ev.Bytes) > 0 || ev.JSON != nil:
		return fmt.Errorf("%w: a message carries its payload in Event.Data", ErrInvalidData)
	}
	return nil
}

// A Backend is the log behind a [Hub]: it orders published events, gives
// them their IDs, keeps the history that reconnecting clients replay, and
// carries events between hubs when several servers share one log. The
// default, made by [NewHub] when no backend is given, is an in-memory log
// for a single process; a shared one (Redis, say) lets a client reconnect
// to any server.
//
// A Backend must be safe for concurrent use.
type Backend interface {
	// Publish appends msg to the log, after [Message.Validate] accepts it.
	// msg.ID is empty unless the publisher chose one; the backend sets it
	// otherwise, unique and increasing.
	// Every hub on the log, the publishing one included, receives the
	// message through the function given to Listen.
	//
	// Every backend keeps a chosen ID as it is, even one that repeats an
	// earlier ID or looks like the backend's own: code that publishes
	// with IDs works the same on any backend. A Last-Event-ID names the
	// newest message that carries it, whichever chose it.
	Publish(ctx context.Context, msg Message) error

	// Listen starts the delivery of every message appended to the log from
	// now on, by any hub, to deliver: one call at a time, in log order.
	// It is called once, by [NewHub]; deliver must not be called after
	// Close returns.
	Listen(deliver func(Message)) error

	// Replay calls fn, in log order, for every message appended after the
	// newest one with ID lastID, and stops at the first error fn returns. If the
	// log does not hold lastID (it was never there, or has aged out) it
	// returns an error wrapping [ErrUnknownID] without calling fn; if the
	// log loses messages while the replay runs, it stops with such an
	// error after the calls it made. The hub then sends a [ResetEvent].
	Replay(ctx context.Context, lastID string, fn func(Message) error) error

	// Close stops delivery and releases the backend's resources.
	Close() error
}

// A BatchBackend is a [Backend] that appends several messages in one
// step: a log across the network pays its round trip once for the batch
// instead of once per message. [Hub.PublishBatch] hands it whole batches.
type BatchBackend interface {
	Backend

	// PublishBatch appends msgs in log order, each as Publish would (a
	// chosen ID kept, the others given one), and returns how many of
	// them, a prefix, it appended. With an error, what happened to
	// msgs[n] is what the error says, as for Publish, and the messages
	// after it were not appended. Every hub on the log receives them
	// through Listen, in order. PublishBatch checks every message with
	// [Message.Validate] before it appends any.
	PublishBatch(ctx context.Context, msgs []Message) (int, error)
}

// ErrUnknownID reports a Last-Event-ID that the hub's history does not
// hold: it never existed or has aged out. The client is sent a
// [ResetEvent] instead of a replay.
var ErrUnknownID = errors.New("sse: unknown last event id")
