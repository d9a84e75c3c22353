package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

// childEnv marks this test binary, re-executed by a rig, as a server or
// client process: the rig passes the load tool's flags, which TestMain
// reads itself.
const childEnv = "CLUSTER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "" {
		os.Exit(m.Run())
	}
	args := os.Args[1:]
	var err error
	switch {
	case slices.Contains(args, "-cluster-agent"):
		err = ServeAgent(os.Stdin, os.Stdout)
	case len(args) >= 2 && args[0] == "-serve":
		err = serveChild(args[1])
	default:
		err = fmt.Errorf("unknown child arguments %q", args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveChild serves impl on a free loopback port until standard input
// closes, as the load tool's -serve does.
func serveChild(impl string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	return server.Serve(ctx, impl, ln)
}

func testRunner(t *testing.T) *Runner {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, "1")
	return &Runner{Exe: exe, Log: io.Discard, Stall: 10 * time.Second, RedisImpl: "eventwire-redis", MemImpl: "eventwire"}
}

// TestBroadcastInMemory runs R1's in-memory half at a small size: three
// client processes, one server, every event to every client once.
func TestBroadcastInMemory(t *testing.T) {
	r := testRunner(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, pubs := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d publishers", pubs), func(t *testing.T) {
			spec := BroadcastSpec{Servers: 3, Clients: 20, Events: 30, Size: 64, Publishers: pubs}
			s, err := r.broadcast(ctx, false, 1, spec)
			if err != nil {
				t.Fatal(err)
			}
			if s.Readers != 60 || s.Expected != 60*30 || s.Delivered != s.Expected || s.Lost != 0 || s.Backs != 0 {
				t.Errorf("readers %d, expected %d, delivered %d, lost %d, dup %d; want 60 readers with all 1800 events once",
					s.Readers, s.Expected, s.Delivered, s.Lost, s.Backs)
			}
			if len(s.ToLast) != 30 || slices.Min(s.ToLast) <= 0 || s.P99 <= 0 || s.PerSec <= 0 {
				t.Errorf("publish to last %v, p99 %v, rate %.0f: want them measured", s.ToLast, s.P99, s.PerSec)
			}
		})
	}
}

// skipWithoutRedis skips the test when redis-server is not installed,
// unless CI is set.
func skipWithoutRedis(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needed on CI: %v", err)
		}
		t.Skip("redis-server is not installed")
	}
}

// TestBroadcastRedis runs R1's Redis half at a small size: three servers
// on one Redis, events published on the first reach the clients of all.
func TestBroadcastRedis(t *testing.T) {
	skipWithoutRedis(t)
	r := testRunner(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	spec := BroadcastSpec{Servers: 3, Clients: 20, Events: 30, Size: 64}
	for _, apart := range []bool{false, true} {
		spec.Apart = apart
		s, err := r.broadcast(ctx, true, 3, spec)
		if err != nil {
			t.Fatal(err)
		}
		if s.Readers != 60 || s.Delivered != 60*30 || s.Lost != 0 || s.Backs != 0 {
			t.Errorf("publisher apart %v: readers %d, delivered %d, lost %d, dup %d; want 60 readers with all 1800 events once",
				apart, s.Readers, s.Delivered, s.Lost, s.Backs)
		}
	}
}

// TestFailover runs R4 at a small size: the clients of the killed server
// come back on the others and miss nothing.
func TestFailover(t *testing.T) {
	skipWithoutRedis(t)
	r := testRunner(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res := r.Failover(ctx, FailoverSpec{Servers: 3, Clients: 20, Events: 300, Size: 64, Rate: 200, KillAfter: 500 * time.Millisecond})
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	s := res.Step
	if s.Readers != 60 || s.Delivered != 60*300 || s.Lost != 0 || s.Backs != 0 || s.Short != 0 {
		t.Errorf("readers %d, delivered %d, lost %d, dup %d, short %d; want 60 readers with all 300 events once, in order; first anomalies:\n%s",
			s.Readers, s.Delivered, s.Lost, s.Backs, s.Short, strings.Join(s.Notes, "\n"))
	}
	if res.Moved != 20 || res.Back != 20 || res.ToLastBack <= 0 {
		t.Errorf("%d clients moved, %d came back, the last after %v; want 20, 20, a time", res.Moved, res.Back, res.ToLastBack)
	}
}
