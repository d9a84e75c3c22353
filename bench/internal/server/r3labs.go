package server

import (
	"context"

	r3sse "github.com/r3labs/sse/v2"
)

// r3labs is github.com/r3labs/sse/v2's Server with one stream and
// AutoReplay off. Clients choose the stream with the query stream=bench.
// Publish hands the event to the stream's goroutine, which sends it to
// each subscriber's channel (64 deep), blocking while one is full.
type r3labs struct {
	*r3sse.Server
}

func newR3labs() (Broadcaster, error) {
	s := r3sse.New()
	s.AutoReplay = false
	s.CreateStream(Topic)
	return &r3labs{Server: s}, nil
}

func (r *r3labs) Publish(_ context.Context, data string) error {
	r.Server.Publish(Topic, &r3sse.Event{Data: []byte(data)})
	return nil
}

func (r *r3labs) Subscribers() int { return -1 }

func (r *r3labs) Close(context.Context) error {
	r.Server.Close()
	return nil
}
