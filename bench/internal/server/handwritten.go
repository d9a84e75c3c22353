package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Settings of the hand-written baseline, chosen to match eventwire's
// defaults (sse.DefaultQueueSize, sse.DefaultWriteTimeout).
const (
	hwQueue        = 256
	hwWriteTimeout = 10 * time.Second
)

// handwritten is the baseline: the broadcaster one would write by hand with
// net/http. Each client has a buffered channel of encoded frames; Publish
// sends to every channel without blocking, and a client whose channel is
// full is disconnected (removed and kicked), never waited for, so one
// stuck client cannot stall the others. The handler writes what its
// channel holds, flushing once per batch, with a write deadline so that a
// stuck connection ends too.
type handwritten struct {
	mu      sync.Mutex
	clients map[*hwClient]struct{}
	closed  bool
}

type hwClient struct {
	frames chan []byte
	kicked chan struct{} // closed when removed by Publish or Close
}

func newHandwritten() (Broadcaster, error) {
	return &handwritten{clients: make(map[*hwClient]struct{})}, nil
}

func (h *handwritten) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	c := &hwClient{frames: make(chan []byte, hwQueue), kicked: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	defer h.remove(c)
	for {
		var f []byte
		select {
		case <-r.Context().Done():
			return
		case <-c.kicked:
			return
		case f = <-c.frames:
		}
		if err := rc.SetWriteDeadline(time.Now().Add(hwWriteTimeout)); err != nil {
			return
		}
		if _, err := w.Write(f); err != nil {
			return
		}
		for range len(c.frames) { // write what else is queued, flush once
			if _, err := w.Write(<-c.frames); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func (h *handwritten) remove(c *hwClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.kicked)
	}
}

func (h *handwritten) Publish(_ context.Context, data string) error {
	f := []byte("data: " + data + "\n\n")
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.frames <- f:
		default: // full: the client is too slow, disconnect it
			delete(h.clients, c)
			close(c.kicked)
		}
	}
	return nil
}

func (h *handwritten) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func (h *handwritten) Close(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		delete(h.clients, c)
		close(c.kicked)
	}
	return nil
}
