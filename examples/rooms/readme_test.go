// Package rooms holds the chat-room recipe for each router; the README
// shows the chi program in full and points to the others.
package rooms

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsEachProgram keeps the README's recipe in step with the
// programs, which the build checks: it shows the chi program as it is, and
// names the others.
func TestREADMEShowsEachProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("chi/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(code)+"```") {
		t.Errorf("README.md does not show examples/rooms/chi/main.go as it is")
	}
	for _, dir := range []string{"gin", "echo", "echo5"} {
		if _, err := os.Stat(dir + "/main.go"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "`examples/rooms/"+dir+"`") {
			t.Errorf("README.md does not point to examples/rooms/%s", dir)
		}
	}
}
