// Command llm streams the answer of an LLM-like API to browsers and Go
// clients, on chi: the app's endpoint POST /chat reads a JSON prompt,
// posts it to the model's streaming API, and sends the model's events on
// as they come. / is a page that asks with fetch (an EventSource cannot
// POST) and shows the answer token by token.
//
// So that it runs without an API key, the program serves a fake model
// too, at POST /v1/chat, with the count of the answers it started at GET
// /stats. In a real app the model is the provider's, at its URL.
//
//	go run ./examples/llm                                 # then open http://127.0.0.1:8080
//	go run ./examples/llm -ask "why is the sky blue?"     # ask the running server from Go
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eventwire/sse/adapters/chi"
	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/examples/internal/demo"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on; with -ask, of the server to ask")
	interval := flag.Duration("interval", 100*time.Millisecond, "time between the fake model's tokens")
	question := flag.String("ask", "", "ask the server at -addr this prompt, print the answer and exit")
	flag.Parse()

	if *question != "" {
		if err := ask(context.Background(), http.DefaultClient, "http://"+*addr+"/chat", *question, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	m := &model{interval: *interval}
	c := &chat{model: "http://" + *addr + "/v1/chat", client: http.DefaultClient}
	if err := demo.ListenAndServe(*addr, routes(m, c)); err != nil {
		log.Fatal(err)
	}
}

// routes serves the page, the app's /chat and the fake model.
func routes(m *model, c *chat) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Logger, middleware.Recoverer)
	r.Get("/", servePage)
	r.Post("/chat", ssechi.Handler(c.stream))
	r.Post("/v1/chat", m.complete)
	r.Get("/stats", m.stats)
	return r
}

// prompt is the JSON body of a question, to the app and to the model.
type prompt struct {
	Prompt string `json:"prompt"`
}

// token is the JSON data of the model's events, but the last, [DONE].
type token struct {
	Token string `json:"token"`
}

// isDone reports whether ev is the model's last event.
func isDone(ev sse.Event) bool { return ev.Data == "[DONE]" }

// chat is the app: its stream function answers POST /chat.
type chat struct {
	model  string       // the URL of the model's streaming endpoint
	client *http.Client // for the model: one without a Timeout, which would cut long answers
}

// stream reads the prompt from the request body, which a stream function
// may read over HTTP/1.1 and HTTP/2 alike, asks the model, and sends each
// of the model's events on as it comes, [DONE] included; then the
// response ends. The events keep their IDs, so a client that lost the
// connection and asks again with Last-Event-ID resumes where it was.
func (c *chat) stream(s *sse.Stream) error {
	var p prompt
	if err := json.NewDecoder(io.LimitReader(s.Request().Body, 64<<10)).Decode(&p); err != nil {
		// The status (200) is sent: say it with an event.
		return s.Send(sse.Event{Type: "error", Data: "the body must be JSON: {\"prompt\": \"...\"}"})
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	// The stream's context ends when the browser leaves, and with it the
	// request to the model: no answer is generated for nobody.
	req, err := http.NewRequestWithContext(s.Context(), http.MethodPost, c.model, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json") // and your API key: Authorization: Bearer ...
	if id := s.LastEventID(); id != "" {
		req.Header.Set("Last-Event-ID", id) // our client resumes: so does the model
	}
	// WithEndAfter ends the loop at [DONE]; without it the client would
	// reconnect when the answer ends and ask again. A cut connection does
	// reconnect (after 200 ms here), sending the prompt again with the
	// last event ID: this model resumes after it. (Most real APIs cannot resume, and answer
	// afresh: to fail instead, make WithRequestHook return an error for a
	// request that has a Last-Event-ID.)
	done := sse.WithEndAfter(isDone)
	for ev, err := range sse.Events(c.client, req, done, sse.WithReconnectDelay(200*time.Millisecond)) {
		if err != nil { // a 4xx from the model, or the browser left
			if sendErr := s.Send(sse.Event{Type: "error", Data: "the model failed"}); sendErr != nil {
				return sendErr
			}
			return err
		}
		if err := s.Send(ev); err != nil {
			return err
		}
	}
	return nil
}

// ask posts prompt to the app's /chat at url, the way a Go program
// consumes a streamed answer, and writes the answer to w as it arrives.
func ask(ctx context.Context, client *http.Client, url, question string, w io.Writer) error {
	body, err := json.Marshal(prompt{Prompt: question})
	if err != nil {
		return err
	}
	// A bytes.Reader lets NewRequest set GetBody: the client can send the
	// body again if it has to reconnect.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for ev, err := range sse.Events(client, req, sse.WithEndAfter(isDone)) {
		if err != nil {
			return err
		}
		switch {
		case ev.Type == "error":
			return fmt.Errorf("chat: %s", ev.Data)
		case isDone(ev):
			_, err := fmt.Fprintln(w)
			return err
		}
		var t token
		if err := json.Unmarshal([]byte(ev.Data), &t); err != nil {
			return fmt.Errorf("chat: event %s: %w", ev.ID, err)
		}
		if _, err := io.WriteString(w, t.Token); err != nil {
			return err
		}
	}
	return nil
}

// model is a fake LLM API that streams as the big providers' do: POST
// {"prompt": "..."} is answered with events whose data is {"token":
// "..."}, and a last one with data [DONE]. Each event's ID is its number.
// Unlike most real APIs, it resumes an answer after the Last-Event-ID a
// client sends, without starting a new one.
type model struct {
	interval    time.Duration // between tokens
	generations atomic.Int64  // answers started, resumptions not counted
}

// complete answers POST /v1/chat. It reads the body before it streams,
// so that it can still answer a bad one with 400, as the real APIs do.
func (m *model) complete(w http.ResponseWriter, r *http.Request) {
	var p prompt
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&p); err != nil || p.Prompt == "" {
		http.Error(w, `{"error": "a JSON body with a prompt is required"}`, http.StatusBadRequest)
		return
	}
	tokens := answer(p.Prompt)
	next, err := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	if err != nil || next < 0 || next > len(tokens) {
		next = 0
		m.generations.Add(1)
	}
	sse.Serve(w, r, func(s *sse.Stream) error {
		for i := next; i < len(tokens); i++ {
			select {
			case <-time.After(m.interval): // thinking
			case <-s.Done():
				return s.Err()
			}
			if err := s.Send(sse.Event{ID: strconv.Itoa(i + 1), JSON: token{tokens[i]}}); err != nil {
				return err
			}
		}
		return s.Send(sse.Event{ID: strconv.Itoa(len(tokens) + 1), Data: "[DONE]"})
	})
}

// answer is the fake model's answer to question, in tokens: words with
// the space after them. Its line break and non-ASCII characters travel in
// the JSON.
func answer(question string) []string {
	text := fmt.Sprintf("You asked: “%s”.\nHere is the answer, one token at a time — as an LLM would send it.", question)
	return strings.SplitAfter(text, " ")
}

// stats writes {"generations": n}: how many answers the model started.
func (m *model) stats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(map[string]int64{"generations": m.generations.Load()}); err != nil {
		log.Printf("stats: %v", err)
	}
}

// page asks /chat with fetch and shows the answer as it arrives.
//
//go:embed index.html
var page []byte

// servePage writes page.
func servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, err := w.Write(page); err != nil {
		log.Printf("page: %v", err)
	}
}
