// Package ssetest tests event stream handlers in a few lines, as a
// browser's EventSource would use them.
//
// [Open] serves any [http.Handler] (one of [sse.Handler], a hub's, or a
// chi, gin or echo router with the module's adapters) on a loopback HTTP
// server, sends it a request and returns a [Conn]. The Conn reads the
// decoded events with a bound on time and count, leaves as a client does
// and checks that the handler returned, reconnects with the last event ID
// it saw, and shows the status and headers of a response that is not a
// stream:
//
//	func TestTicker(t *testing.T) {
//		c := ssetest.Open(t, ticker(), httptest.NewRequest("GET", "/ticks", nil))
//		for i, ev := range c.Take(3) {
//			if want := strconv.Itoa(i + 1); ev.ID != want {
//				t.Errorf("event %d has ID %q, want %q", i, ev.ID, want)
//			}
//		}
//		c.Reconnect() // with Last-Event-ID: 3
//		if ev := c.Next(); ev.ID != "4" {
//			t.Errorf("after reconnecting: ID %q, want 4", ev.ID)
//		}
//	}
//
// A call that cannot get what it was asked for fails the test with
// [testing.TB.Fatalf], saying what it expected, what arrived, and the
// events read so far: no event within the timeout ([DefaultTimeout],
// or [WithTimeout]), a stream that ended early, a refused request, a
// handler that panicked. When the client leaves ([Conn.Close], a
// reconnection, or the end of the test), a handler still running after the
// timeout is reported with the stack of its goroutine: a stream function
// that never looks at [sse.Stream.Done] keeps running on a real server too.
//
// Every goroutine the package starts has ended once the test's cleanups
// have run. The test server speaks HTTP/1.1, or HTTP/2 with [WithHTTP2].
package ssetest
