package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	sse "github.com/eventwire/sse/core"
)

// eventwire is this module's sse.Hub with default options, served by
// sse.Handler with its defaults too: a heartbeat after 15 s of silence
// and a 10 s deadline on each write, as a server in production runs.
type eventwire struct {
	hub *sse.Hub
	http.Handler
}

func newEventwire() (Broadcaster, error) {
	hub, err := sse.NewHub()
	if err != nil {
		return nil, err
	}
	return &eventwire{hub: hub, Handler: sse.Handler(hub.StreamFunc(Topic))}, nil
}

func (e *eventwire) Publish(ctx context.Context, data string) error {
	return e.hub.Publish(ctx, sse.Event{Data: data}, Topic)
}

func (e *eventwire) PublishBatch(ctx context.Context, data []string) (int, error) {
	evs := make([]sse.Event, len(data))
	for i, d := range data {
		evs[i].Data = d
	}
	return e.hub.PublishBatch(ctx, evs, Topic)
}

func (e *eventwire) Subscribers() int { return e.hub.Stats().Subscribers }

func (e *eventwire) Close(ctx context.Context) error { return e.hub.Shutdown(ctx) }

// LatestKeys is how many keys the eventwire-latest implementation spreads
// the events over: event seq's key is seq mod LatestKeys.
const LatestKeys = 16

// newEventwireLatest is the hub made for live values (sse.WithLiveValues:
// KeepLatest, no history, each key's latest event handed to new clients),
// each event's key taken from its payload's sequence number by
// sse.WithLatestKey. Primers (seq -1) have no key: every one is delivered.
func newEventwireLatest() (Broadcaster, error) {
	hub, err := sse.NewHub(sse.WithLiveValues(), sse.WithLatestKey(payloadKey))
	if err != nil {
		return nil, err
	}
	return &eventwire{hub: hub, Handler: sse.Handler(hub.StreamFunc(Topic))}, nil
}

// payloadKey returns the key of a message whose data is a Payload.
func payloadKey(m sse.Message) string {
	_, rest, _ := strings.Cut(m.Event.Data, " ")
	seq, _, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(seq)
	if err != nil || n < 0 {
		return ""
	}
	return strconv.Itoa(n % LatestKeys)
}

func (e *eventwire) hubStats() *HubStats {
	st := e.hub.Stats()
	return &HubStats{DroppedClients: st.DroppedClients, Dropped: st.Dropped, QueueDepth: st.QueueDepth}
}
