package services

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// skipUnlessInstalled skips the test when err says the server is not
// installed, or fails it when the environment variable CI is "true".
func skipUnlessInstalled(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needed on CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := StartRedis(ctx)
	skipUnlessInstalled(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			r.Kill()
		}
	})
	if !answersPing(r.Addr()) {
		t.Fatalf("no answer to PING at %s", r.Addr())
	}
	if want := "redis://" + r.Addr(); r.URL() != want {
		t.Errorf("URL() = %q, want %q", r.URL(), want)
	}
	dir := r.p.dir
	stopped = true
	if err := r.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if answersPing(r.Addr()) {
		t.Errorf("%s still answers PING after Stop", r.Addr())
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the folder %s is still there after Stop: %v", dir, err)
	}
	if err := r.Kill(); err != nil {
		t.Errorf("Kill after Stop: %v", err)
	}
}

func TestRedisKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := StartRedis(ctx)
	skipUnlessInstalled(t, err)
	if err := r.Kill(); err != nil {
		t.Errorf("Kill: %v", err)
	}
	if answersPing(r.Addr()) {
		t.Errorf("%s still answers PING after Kill", r.Addr())
	}
}

func TestPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	s, err := StartPostgres(ctx)
	skipUnlessInstalled(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.Stop()
		}
	})
	bin, err := postgresBin()
	if err != nil {
		t.Fatal(err)
	}
	psql := filepath.Join(bin, "psql")
	query := func() (string, error) {
		out, err := exec.CommandContext(ctx, psql, "-X", "-A", "-t", "-c", "SELECT 40 + 2", s.URL()).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := query(); err != nil || out != "42" {
		t.Fatalf("psql %s: %q, %v; want 42", s.URL(), out, err)
	}
	dir := s.p.dir
	stopped = true
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if out, err := query(); err == nil {
		t.Errorf("psql after Stop: %q, want an error", out)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the folder %s is still there after Stop: %v", dir, err)
	}
}
