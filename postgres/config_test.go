package ssepg

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// A configuration that cannot work fails in New or Open, at once, with an
// error that says what is wrong.
func TestConfigurationErrors(t *testing.T) {
	leaktest.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String() // nothing listens there once closed
	ln.Close()
	for _, c := range []struct {
		name string
		url  string
		opts []Option
		want string
		is   error
	}{
		{name: "bad URL", url: "http://127.0.0.1", want: "ssepg: bad PostgreSQL URL"},
		{name: "bad table", url: "postgres://" + closed + "/db", opts: []Option{WithTable("Events")}, is: ErrBadTable},
		{name: "nobody listens", url: "postgres://u@" + closed + "/db?connect_timeout=2", want: "ssepg: PostgreSQL at 127.0.0.1:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			b, err := Open(context.Background(), c.url, c.opts...)
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded")
			}
			if c.is != nil && !errors.Is(err, c.is) || c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v; want %v %q", err, c.is, c.want)
			}
			t.Log(err)
			if d := time.Since(start); d > DefaultConnectTimeout {
				t.Errorf("Open took %v", d)
			}
		})
	}
}
