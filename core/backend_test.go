package sse_test

import (
	"testing"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

// The in-memory log keeps IDs chosen by publishers as the Redis backend
// does (see redis.TestChosenIDs): the same scenario runs on both.
func TestChosenIDs(t *testing.T) {
	leaktest.Check(t)
	hub, err := sse.NewHub()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	backendtest.ChosenIDs(t, hub)
}

// Every ID that could not come back in a Last-Event-ID header is refused
// before it reaches the log, as on every backend (see redis.TestInvalidIDs).
func TestInvalidIDs(t *testing.T) {
	leaktest.Check(t)
	hub, err := sse.NewHub()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	backendtest.InvalidIDs(t, hub, nil)
}

// A batch reaches subscribers and replays as on every backend (see
// redis.TestPublishBatch, where it takes one round trip per 256 events).
func TestPublishBatch(t *testing.T) {
	leaktest.Check(t)
	hub, err := sse.NewHub(sse.WithQueueSize(1024)) // the batch comes at once
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	backendtest.Batch(t, hub)
}

// Hub.End ends the streams of a topic, as on every backend (see
// redis.TestEnd, where it ends them on another server).
func TestEnd(t *testing.T) {
	leaktest.Check(t)
	hub, err := sse.NewHub()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	backendtest.End(t, hub, hub)
}

// Streams that end at their lifetime lose nothing through the in-memory
// log, as on every backend (see redis.TestRotation).
func TestRotation(t *testing.T) {
	leaktest.Check(t)
	hub, err := sse.NewHub()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	backendtest.Rotation(t, hub)
}
