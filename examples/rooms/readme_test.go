// Package rooms holds the chat-room recipe for each router; the README
// shows each program in full.
package rooms

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsEachProgram keeps the README's recipe in step with the
// programs, which the build checks.
func TestREADMEShowsEachProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"chi", "gin", "echo", "echo5"} {
		code, err := os.ReadFile(dir + "/main.go")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "```go\n"+string(code)+"```") {
			t.Errorf("README.md does not show examples/rooms/%s/main.go as it is", dir)
		}
	}
}
