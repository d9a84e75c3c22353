package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// A Control is a client of a server process's control endpoints, GET
// /stats, POST /publish and POST /shutdown, at Base ("http://host:port").
type Control struct {
	Base string
	HC   *http.Client
}

// Stats asks for the server's stats, after returning freed memory to the
// OS if gc is set.
func (c Control) Stats(ctx context.Context, gc bool) (Stats, error) {
	u := c.Base + "/stats"
	if gc {
		u += "?gc=1"
	}
	var st Stats
	err := c.do(ctx, http.MethodGet, u, &st)
	return st, err
}

// Publish makes the server publish n events of size bytes numbered from
// seq0 at rate events/s (0: unpaced), batch at a time if above 1 (see
// BatchPublisher), and waits until it has.
func (c Control) Publish(ctx context.Context, n, size int, rate float64, seq0, batch int) (PublishResult, error) {
	q := url.Values{}
	q.Set("n", strconv.Itoa(n))
	q.Set("size", strconv.Itoa(size))
	q.Set("rate", strconv.FormatFloat(rate, 'f', -1, 64))
	q.Set("seq0", strconv.Itoa(seq0))
	if batch > 1 {
		q.Set("batch", strconv.Itoa(batch))
	}
	var res PublishResult
	err := c.do(ctx, http.MethodPost, c.Base+"/publish?"+q.Encode(), &res)
	return res, err
}

// Shutdown asks the server to shut down (see BENCH_DRAIN) and waits for
// its answer, once http.Server.Shutdown has returned.
func (c Control) Shutdown(ctx context.Context) (ShutdownResult, error) {
	var res ShutdownResult
	err := c.do(ctx, http.MethodPost, c.Base+"/shutdown", &res)
	return res, err
}

func (c Control) do(ctx context.Context, method, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.HC.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
