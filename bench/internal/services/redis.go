package services

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Redis is a redis-server started by [StartRedis]. Its methods are safe
// for concurrent use.
type Redis struct {
	addr string
	p    *process
}

// StartRedis starts a redis-server on a free port of 127.0.0.1, with its
// data in a new temporary folder, and waits until it answers PING or ctx
// ends (ctx bounds the start only, not the server's life). The server
// saves no snapshots and keeps no append-only file (a restart loses the
// data) unless args, added to the command line after the defaults, say
// otherwise (e.g. "--appendonly", "yes").
//
// Without redis-server on the PATH it returns an error wrapping
// [ErrNotInstalled]. The caller must call [Redis.Stop] or [Redis.Kill].
func StartRedis(ctx context.Context, args ...string) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: redis-server is not on the PATH (Debian package redis-server): %v", ErrNotInstalled, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-redis-")
	if err != nil {
		return nil, err
	}
	argv := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", "",
		// The load tool's servers open one connection each, but a tool
		// may run many of them.
		"--maxclients", "10000",
	}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.SysProcAttr = procAttr(nil, syscall.SIGKILL)
	p, err := start("redis-server", cmd, dir, filepath.Join(dir, "redis.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r := &Redis{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), p: p}
	if err := r.wait(ctx); err != nil {
		out := p.output()
		p.stop(syscall.SIGKILL, 5*time.Second) //nolint:errcheck // the error below says more
		return nil, fmt.Errorf("redis-server %v: %w; its output:\n%s", argv, err, out)
	}
	return r, nil
}

// wait returns when the server answers PING, or an error if it exited,
// ctx ended or 10 s passed.
func (r *Redis) wait(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for !answersPing(r.addr) {
		select {
		case <-r.p.exited:
			return fmt.Errorf("exited: %v", r.p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("does not answer: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// answersPing reports whether a Redis server at addr answers PING.
func answersPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return false
	}
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Addr returns the server's address, "127.0.0.1:port".
func (r *Redis) Addr() string { return r.addr }

// URL returns the server's URL, "redis://127.0.0.1:port", as
// sseredis.Open takes it.
func (r *Redis) URL() string { return "redis://" + r.addr }

// Pid returns the server's process ID.
func (r *Redis) Pid() int { return r.p.cmd.Process.Pid }

// Stop asks the server to shut down (SIGTERM), waits for it (killing it
// after 10 s) and removes its folder. Only the first call to Stop or
// [Redis.Kill] acts; later ones return its result. It returns an error if
// the server had exited before (it crashed) or had to be killed.
func (r *Redis) Stop() error { return r.p.stop(syscall.SIGTERM, 10*time.Second) }

// Kill stops the server at once, as a crash would (SIGKILL), waits for it
// and removes its folder. Only the first call to [Redis.Stop] or Kill
// acts; later ones return its result.
func (r *Redis) Kill() error { return r.p.stop(syscall.SIGKILL, 10*time.Second) }
