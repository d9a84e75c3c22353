package sse

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DefaultLimitRetry is how long, on average, a client refused by a [Limit]
// waits before it tries again, unless Limit.Retry says otherwise.
const DefaultLimitRetry = 5 * time.Second

// BusyEvent is the type of the one event of the stream that a [Limit]
// answers an EventSource it refuses with.
const BusyEvent = "sse-busy"

// A Limit caps the streams a server keeps open, in all and for each key
// (the user, the client's address), so that one client opening streams in
// a loop cannot take the connections and file descriptors of the others.
// Share one Limit among the handlers it should cap, with [WithLimit]; the
// streams of a [Hub] are capped by the handler that serves them. Set its
// fields before its first use and do not copy it after. A Limit is safe
// for concurrent use.
//
// A refused client comes back by itself after Retry, give or take a half,
// at random so that refused clients do not return together:
//
//   - a browser's EventSource stops for good on any status but 200, so a
//     GET from a browser (its request carries Sec-Fetch-Mode, as every
//     current browser's does) gets 200 with a stream that sets the retry
//     delay, sends one [BusyEvent] and ends: the EventSource reconnects
//     after that delay;
//   - any other request gets 503 Service Unavailable with Retry-After, in
//     whole seconds, which [Events] honours, as HTTP clients that retry
//     do.
//
// The stream's handler does not run for a refused request.
type Limit struct {
	Max    int                        // streams open in all; 0 or less: no cap
	PerKey int                        // streams open for one key; 0 or less: no cap
	Key    func(*http.Request) string // nil: the host of the client's address
	Retry  time.Duration              // how long a refused client waits, on average; 0: DefaultLimitRetry

	mu    sync.Mutex
	open  int
	byKey map[string]int
}

// WithLimit caps the streams of the handler by l (see [Limit]). A nil l
// is no cap.
func WithLimit(l *Limit) Option {
	return optionFunc(func(c *config) { c.limit = l })
}

// Open returns how many streams the limit holds open now.
func (l *Limit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// acquire counts a stream of r in, and returns the function that counts it
// out, or false if a cap is reached.
func (l *Limit) acquire(r *http.Request) (release func(), ok bool) {
	key := l.key(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Max > 0 && l.open >= l.Max || l.PerKey > 0 && l.byKey[key] >= l.PerKey {
		return nil, false
	}
	l.open++
	if l.PerKey > 0 {
		if l.byKey == nil {
			l.byKey = make(map[string]int)
		}
		l.byKey[key]++
	}
	var once sync.Once
	return func() { once.Do(func() { l.release(key) }) }, true
}

func (l *Limit) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.PerKey > 0 {
		if l.byKey[key]--; l.byKey[key] <= 0 {
			delete(l.byKey, key)
		}
	}
}

func (l *Limit) key(r *http.Request) string {
	if l.Key != nil {
		return l.Key(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// refuse answers a request over the cap so that its client comes back by
// itself (see [Limit]).
func (l *Limit) refuse(w http.ResponseWriter, r *http.Request) error {
	retry := l.Retry
	if retry <= 0 {
		retry = DefaultLimitRetry
	}
	wait := retry/2 + rand.N(retry+1) // retry, give or take a half
	h := w.Header()
	if r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") != "" {
		// h already says text/event-stream (see serve).
		w.WriteHeader(http.StatusOK)
		_, err := fmt.Fprintf(w, "retry: %d\nevent: %s\ndata: too many streams; the client tries again later\n\n",
			max(wait.Milliseconds(), 1), BusyEvent)
		return err
	}
	h.Del("X-Accel-Buffering")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, err := io.WriteString(w, "too many streams; try again later\n")
	return err
}
