package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventwire/sse/e2e/internal/cases"
)

// llmPrompt is what the browser asks the llm example. Its quotes, line
// break and characters beyond ASCII travel in JSON both ways.
const llmPrompt = "Why is the sky \"blue\"?\nAsk «ciel» 🌅"

// llmAnswer is the fake model's answer to llmPrompt (answer in
// examples/llm/main.go).
const llmAnswer = "You asked: “" + llmPrompt + "”.\nHere is the answer, one token at a time — as an LLM would send it."

// llmTokenInterval is the fake model's time between tokens: an answer
// takes a couple of seconds, long enough for the page to be seen showing
// part of it.
const llmTokenInterval = 100 * time.Millisecond

// checkLLM runs examples/llm and has the browser use its page: the page's
// SSE parser reads tricky streams right however they are cut into
// chunks, and a prompt submitted with the form is answered token by
// token, exactly, ending with "complete", while the model generated the
// answer once.
func checkLLM(t *testing.T, b browser) {
	bin := buildExampleOnce(t, "llm")
	addr := freeAddr(t)
	startServer(t, addr, bin, "-addr", addr, "-interval", llmTokenInterval.String())
	p := &page{b: b}
	p.open(t, "http://"+addr+"/")

	checkParser(t, b)

	eval(t, b, `(() => {
		document.getElementById("prompt").value = `+jsString(llmPrompt)+`;
		document.querySelector("#ask button").click();
		return "";
	})()`)
	var st struct{ Status, Answer string }
	partial := false // seen part of the answer while it was streaming
	deadline := time.Now().Add(eventTimeout)
	for {
		js := eval(t, b, `JSON.stringify({
			status: document.getElementById("status").textContent,
			answer: document.getElementById("answer").textContent,
		})`)
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatalf("reading the page: %v in %q", err, js)
		}
		if !strings.HasPrefix(llmAnswer, st.Answer) {
			t.Fatalf("page shows the answer %q (%s), which is not the start of %q", st.Answer, st.Status, llmAnswer)
		}
		if st.Status == "streaming" && st.Answer != "" && st.Answer != llmAnswer {
			partial = true
		}
		if st.Status != "streaming" && st.Status != "none yet" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for the answer to end; the page shows %q with the answer %q", eventTimeout, st.Status, st.Answer)
		}
		time.Sleep(pollEvery)
	}
	if st.Status != "complete" || st.Answer != llmAnswer {
		t.Errorf("page shows %q with the answer\n%q\nwant \"complete\" with\n%q", st.Status, st.Answer, llmAnswer)
	}
	if !partial {
		t.Errorf("the page never showed part of the answer: it did not show the tokens as they arrived")
	}
	if n := llmGenerations(t, addr); n != 1 {
		t.Errorf("the model generated %d answers, want 1", n)
	}
}

// checkParser has the page's sseParser read a stream with every kind of
// line end, multi-line data, comments, an id reset and an unfinished
// event: whole, split in two at each place, one UTF-16 unit at a time,
// and with empty chunks between those. Each must give the events an
// EventSource would.
func checkParser(t *testing.T, b browser) {
	t.Helper()
	const input = ": hi\r\nid: 7\r\nevent: note\r\ndata: line one\r\ndata:line two\r\n\r\n" +
		"data: cr\rdata\r\rdata: lf\n\n" +
		"id\n data: not a field\ndata: é🌅\n\n" +
		"data: never dispatched"
	want := []cases.Received{
		{Type: "note", ID: "7", Data: "line one\nline two"},
		{Type: "message", ID: "7", Data: "cr\n"},
		{Type: "message", ID: "7", Data: "lf"},
		{Type: "message", ID: "", Data: "é🌅"},
	}
	js := eval(t, b, `(() => {
		const input = `+jsString(input)+`;
		const run = (chunks) => {
			const evs = [];
			const parse = sseParser((ev) => evs.push(ev));
			chunks.forEach(parse);
			return evs;
		};
		const units = input.split("");
		const runs = {whole: run([input]), units: run(units), "units and empty chunks": run(units.flatMap((u) => ["", u]))};
		for (let i = 1; i < input.length; i++) runs["split at " + i] = run([input.slice(0, i), input.slice(i)]);
		return JSON.stringify(runs);
	})()`)
	var runs map[string][]cases.Received
	if err := json.Unmarshal([]byte(js), &runs); err != nil {
		t.Fatalf("running the page's parser: %v in %.200q", err, js)
	}
	if len(runs) < 3 {
		t.Fatalf("the page's parser ran %d ways, want more", len(runs))
	}
	for how, got := range runs {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("the page's parser, given the stream %s, gives %v, want %v", how, got, want)
		}
	}
}

// eval evaluates expr, whose value is a string, in the browser's page.
func eval(t *testing.T, b browser, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	s, err := b.eval(ctx, expr)
	if err != nil {
		t.Fatalf("evaluating in the page: %v", err)
	}
	return s
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// llmGenerations reads how many answers the llm example's model started.
func llmGenerations(t *testing.T, addr string) int {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/stats")
	if err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	defer resp.Body.Close()
	var stats struct{ Generations int }
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	return stats.Generations
}
