package peers

import (
	"errors"
	"net/http"
	"reflect"
	"testing"

	sse "github.com/eventwire/sse/core"
	ginsse "github.com/gin-contrib/sse"
	"github.com/gin-gonic/gin"
	r3sse "github.com/r3labs/sse/v2"
	gosse "github.com/tmaxmax/go-sse"
)

// sender sends one event with a library's own API and returns what a
// browser decodes from the response, and the error the library gave, if
// it refused the event.
type sender func(t *testing.T, ev sse.Event) ([]sse.Event, error)

var senders = []struct {
	name string
	send sender
}{
	{"gin", sendGin},
	{"go-sse", sendGoSSE},
	{"r3labs", sendR3labs},
	{"eventwire", sendEventwire},
}

// sendGin renders the event as gin's Context.SSEvent does (Render with a
// github.com/gin-contrib/sse Event), with the ID that SSEvent cannot set.
func sendGin(t *testing.T, ev sse.Event) ([]sse.Event, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	errc := make(chan *gin.Error, 1)
	r.GET("/", func(c *gin.Context) {
		c.Render(-1, ginsse.Event{Id: ev.ID, Event: ev.Type, Data: ev.Data})
		c.Writer.Flush()
		errc <- c.Errors.Last()
	})
	ts := serve(t, r)
	events := connect(t, ts.URL, "", nil).wait(t)
	if err := recv(t, errc, "handler"); err != nil {
		return events, err
	}
	return events, nil
}

// sendGoSSE sends the event on a go-sse Session, building the message with
// the checked constructors NewID and NewType.
func sendGoSSE(t *testing.T, ev sse.Event) ([]sse.Event, error) {
	errc := make(chan error, 1)
	ts := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errc <- func() error {
			sess, err := gosse.Upgrade(w, r)
			if err != nil {
				return err
			}
			m := &gosse.Message{}
			if ev.ID != "" {
				if m.ID, err = gosse.NewID(ev.ID); err != nil {
					return err
				}
			}
			if ev.Type != "" {
				if m.Type, err = gosse.NewType(ev.Type); err != nil {
					return err
				}
			}
			m.AppendData(ev.Data)
			if err := sess.Send(m); err != nil {
				return err
			}
			return sess.Flush()
		}()
	}))
	events := connect(t, ts.URL, "", nil).wait(t)
	return events, recv(t, errc, "handler")
}

// sendR3labs publishes the event on an r3labs stream with AutoReplay off
// (with it on, the event log replaces the ID), then an event with no data,
// which ends the handler's loop.
func sendR3labs(t *testing.T, ev sse.Event) ([]sse.Event, error) {
	srv := r3sse.New()
	srv.AutoReplay = false
	ready := make(chan struct{}, 1)
	srv.OnSubscribe = func(string, *r3sse.Subscriber) { ready <- struct{}{} }
	srv.CreateStream("s")
	t.Cleanup(srv.Close)
	ts := serve(t, srv)
	c := connect(t, ts.URL+"?stream=s", "", nil)
	recv(t, ready, "subscription")
	srv.Publish("s", &r3sse.Event{ID: []byte(ev.ID), Event: []byte(ev.Type), Data: []byte(ev.Data)})
	srv.Publish("s", &r3sse.Event{})
	return c.wait(t), nil
}

// sendEventwire sends the event on a Stream.
func sendEventwire(t *testing.T, ev sse.Event) ([]sse.Event, error) {
	errc := make(chan error, 1)
	ts := serve(t, sse.Handler(func(s *sse.Stream) error {
		errc <- s.Send(ev)
		return nil
	}, sse.WithHeartbeat(0)))
	events := connect(t, ts.URL, "", nil).wait(t)
	return events, recv(t, errc, "handler")
}

// outcome is what a browser saw and whether the library refused.
type outcome struct {
	events  []sse.Event // ID, Type ("message" when none) and Data
	refused bool
}

func msg(id, data string) sse.Event { return sse.Event{ID: id, Type: "message", Data: data} }

// runEncoding sends ev with each library and compares the outcome with
// the one measured for it.
func runEncoding(t *testing.T, ev sse.Event, want map[string]outcome, is error) {
	t.Helper()
	for _, s := range senders {
		t.Run(s.name, func(t *testing.T) {
			w, ok := want[s.name]
			if !ok {
				t.Fatalf("no outcome recorded for %s", s.name)
			}
			events, err := s.send(t, ev)
			if got := (err != nil); got != w.refused {
				t.Errorf("refused = %v (err %v), want %v", got, err, w.refused)
			}
			if s.name == "eventwire" && w.refused && !errors.Is(err, is) {
				t.Errorf("err = %v, want %v", err, is)
			}
			for i := range events {
				events[i].Retry = 0
			}
			if !reflect.DeepEqual(events, w.events) && !(len(events) == 0 && len(w.events) == 0) {
				t.Errorf("browser saw %+q\nwant          %+q", show(events), show(w.events))
			}
		})
	}
}

// TestPeersLineBreaks sends data holding each kind of line break. The
// best an event stream can carry is every line kept, each break read back
// as LF (browsers split lines at CRLF, LF and CR alike).
func TestPeersLineBreaks(t *testing.T) {
	cases := []struct {
		name, data string
		want       map[string]outcome
	}{
		{"LF", "a\nb", map[string]outcome{
			"gin":       {events: []sse.Event{msg("", "a\nb")}},
			"go-sse":    {events: []sse.Event{msg("", "a\nb")}},
			"r3labs":    {events: []sse.Event{msg("", "a")}},
			"eventwire": {events: []sse.Event{msg("", "a\nb")}},
		}},
		{"CR", "a\rb", map[string]outcome{
			"gin":       {events: []sse.Event{msg("", `a\rb`)}},
			"go-sse":    {events: []sse.Event{msg("", "a\nb")}},
			"r3labs":    {events: []sse.Event{msg("", "a")}},
			"eventwire": {events: []sse.Event{msg("", "a\nb")}},
		}},
		{"CRLF", "a\r\nb", map[string]outcome{
			"gin":       {events: []sse.Event{msg("", "a\\r\nb")}},
			"go-sse":    {events: []sse.Event{msg("", "a\nb")}},
			"r3labs":    {events: []sse.Event{msg("", "a")}},
			"eventwire": {events: []sse.Event{msg("", "a\nb")}},
		}},
		{"trailing LF", "a\n", map[string]outcome{
			"gin":       {events: []sse.Event{msg("", "a\n")}},
			"go-sse":    {events: []sse.Event{msg("", "a")}},
			"r3labs":    {events: []sse.Event{msg("", "a")}},
			"eventwire": {events: []sse.Event{msg("", "a\n")}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runEncoding(t, sse.Event{Data: c.data}, c.want, nil)
		})
	}
}

// TestPeersFieldInjection sends an ID or a type holding a line break
// followed by a field: a library that writes it raw lets the value inject
// that field.
func TestPeersFieldInjection(t *testing.T) {
	cases := []struct {
		name string
		ev   sse.Event
		is   error
		want map[string]outcome
	}{
		{"ID", sse.Event{ID: "1\ndata: injected", Data: "x"}, sse.ErrInvalidID, map[string]outcome{
			"gin":       {events: []sse.Event{msg(`1\ndata: injected`, "x")}},
			"go-sse":    {refused: true},
			"r3labs":    {events: []sse.Event{msg("1", "injected\nx")}},
			"eventwire": {refused: true},
		}},
		{"type", sse.Event{Type: "x\nid: 666", Data: "x"}, sse.ErrInvalidType, map[string]outcome{
			"gin":       {events: []sse.Event{{Type: `x\nid: 666`, Data: "x"}}},
			"go-sse":    {refused: true},
			"r3labs":    {events: []sse.Event{{ID: "666", Type: "x", Data: "x"}}},
			"eventwire": {refused: true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runEncoding(t, c.ev, c.want, c.is)
		})
	}
}

// TestPeersInvalidUTF8 sends data that is not UTF-8 (Latin-1 "café"):
// browsers decode the stream as UTF-8 and replace such bytes.
func TestPeersInvalidUTF8(t *testing.T) {
	replaced := outcome{events: []sse.Event{msg("", "caf\uFFFD")}}
	runEncoding(t, sse.Event{Data: "caf\xe9"}, map[string]outcome{
		"gin":       replaced,
		"go-sse":    replaced,
		"r3labs":    replaced,
		"eventwire": {refused: true},
	}, sse.ErrInvalidData)
}
