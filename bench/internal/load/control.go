package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

// control talks to a child's control endpoints.
type control struct {
	base string
	hc   *http.Client
}

func newControl(addr string) *control {
	return &control{
		base: "http://" + addr,
		hc:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}},
	}
}

func (c *control) close() { c.hc.CloseIdleConnections() }

// stats asks for the child's stats, after returning freed memory to the OS
// if gc is set.
func (c *control) stats(ctx context.Context, gc bool) (server.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u := c.base + "/stats"
	if gc {
		u += "?gc=1"
	}
	var st server.Stats
	err := c.do(ctx, http.MethodGet, u, &st)
	return st, err
}

// publish makes the child publish n events of size bytes numbered from
// seq0 at rate events/s (0: unpaced), and waits until it has.
func (c *control) publish(ctx context.Context, n, size int, rate float64, seq0 int) (server.PublishResult, error) {
	q := url.Values{}
	q.Set("n", strconv.Itoa(n))
	q.Set("size", strconv.Itoa(size))
	q.Set("rate", strconv.FormatFloat(rate, 'f', -1, 64))
	q.Set("seq0", strconv.Itoa(seq0))
	var res server.PublishResult
	err := c.do(ctx, http.MethodPost, c.base+"/publish?"+q.Encode(), &res)
	return res, err
}

func (c *control) do(ctx context.Context, method, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
