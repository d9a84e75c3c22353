package sseredis

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/syncbuf"
)

// redisServer is a redis-server process of the test's own, on a free port
// of 127.0.0.1 with its data in a temporary directory, killed when the
// test ends.
type redisServer struct {
	t    testing.TB
	port int
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *syncbuf.Buffer
}

// persistent is the configuration of a server that keeps every write
// across a restart: an append-only file, synced before each answer.
var persistent = []string{"--appendonly", "yes", "--appendfsync", "always"}

// volatile is the configuration of a server that loses its data when it
// stops.
var volatile = []string{"--appendonly", "no"}

// startRedis starts a redis-server with args added to the defaults, and
// waits until it answers. Without redis-server on the PATH the test is
// skipped, or fails when the environment variable CI is "true".
func startRedis(t testing.TB, args ...string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not installed (Debian package redis-server): %v", err)
		}
		t.Skipf("redis-server is not installed (Debian package redis-server), skipping: %v", err)
	}
	s := &redisServer{t: t, port: freePort(t)}
	s.args = append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "",
		"--dir", t.TempDir(), "--logfile", "",
	}, args...)
	s.start()
	t.Cleanup(s.kill)
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) url() string { return "redis://" + s.addr() }

// start runs the server and waits until it answers PING.
func (s *redisServer) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = new(syncbuf.Buffer)
	s.cmd = exec.Command("redis-server", s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !answers(s.addr()) {
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			s.cmd.Wait()
			s.t.Fatalf("redis-server %v does not answer after 10s; its output:\n%s", s.args, s.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answers reports whether a Redis server answers PING at addr (an error
// such as NOAUTH is an answer).
func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH"))
}

// kill stops the server at once, as a crash would (SIGKILL).
func (s *redisServer) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// restart kills the server and starts it again on the same port and
// directory.
func (s *redisServer) restart() {
	s.t.Helper()
	s.kill()
	s.start()
}

// proxy is a TCP proxy in front of a Redis server that can cut every
// connection through it, refuse new ones, or drop the answers Redis
// sends, to make connection faults happen on cue.
type proxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	down  bool // refuse (close at once) new connections
	drop  int  // answers still to drop: the connection is cut instead
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) url() string { return "redis://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(s, c, false)
		go p.pipe(c, s, true)
	}
}

// pipe copies from src to dst until either fails; answers (from Redis)
// may be dropped.
func (p *proxy) pipe(dst, src net.Conn, answers bool) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
		src.Close()
		dst.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if answers {
				p.mu.Lock()
				drop := p.drop > 0
				if drop {
					p.drop--
				}
				p.mu.Unlock()
				if drop {
					return
				}
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// setDown makes the proxy refuse connections (cutting the open ones) or
// accept them again.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.cut()
	}
}

// dropAnswers makes the proxy cut the connection instead of passing on
// the next n answers from Redis: the commands ran, but the client does
// not know.
func (p *proxy) dropAnswers(n int) {
	p.mu.Lock()
	p.drop = n
	p.mu.Unlock()
}
