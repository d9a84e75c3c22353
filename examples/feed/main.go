// Command feed is a per-user notifications app on gin. Each user has a
// topic of a hub, "user:<name>": their pages subscribe to it, anyone
// logged in may send them a notification, and logging out ends their
// streams. The hub keeps each topic's newest events, so a user who was
// away gets exactly the notifications they missed, however busy other
// users are.
//
// The login is a toy, a stand-in for real auth: /login?user=<name> sets a
// cookie with the name, and whoever claims a name is that user.
//
//	go run ./examples/feed      # then open http://127.0.0.1:8080/login?user=ann
//	curl -b user=bob -d 'Lunch at noon?' 'http://127.0.0.1:8080/notify?to=ann'
//	curl -b user=ann -X POST http://127.0.0.1:8080/logout   # ends ann's pages' streams
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"html/template"
	"io"
	"log"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventwire/sse/adapters/gin"
	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/examples/internal/demo"
	"github.com/gin-gonic/gin"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

func run(addr string) error {
	hub, err := sse.NewHub() // in memory; each topic keeps its newest 1,000 events for replay
	if err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	routes(r, hub)
	// The server ends every open stream when it shuts down
	// (sse.EndOnShutdown), so every subscription has ended when
	// ListenAndServe returns; then the hub goes.
	err = demo.ListenAndServe(addr, r)
	return errors.Join(err, hub.Close())
}

// retry is the reconnection delay the streams send: a page that lost its
// stream (a deploy, a dropped connection) is back within a second.
const retry = time.Second

// routes adds the app's routes to r. All but /login and /stats need a
// logged-in user.
func routes(r *gin.Engine, hub *sse.Hub) {
	r.GET("/login", login)
	r.GET("/stats", stats(hub))
	app := r.Group("/", requireUser)
	app.GET("/", servePage)
	app.GET("/notifications", ssegin.Handler(func(s *sse.Stream) error {
		return hub.Subscribe(s, topic(ssegin.Context(s).GetString("user")))
	}, sse.WithRetry(retry)))
	app.POST("/notify", notify(hub))
	app.POST("/logout", logout(hub))
}

// topic is the hub topic of user's notifications.
func topic(user string) string { return "user:" + user }

// userCookie is the toy login's cookie: its value is the user's name.
const userCookie = "user"

// validName is what a user name may be.
var validName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// login answers GET /login?user=<name>: it logs the browser in as name
// and sends it to the page. This is a stand-in for real auth (a password,
// an identity provider, a signed session): it trusts the name it is given.
func login(c *gin.Context) {
	name := c.Query("user")
	if !validName.MatchString(name) {
		c.String(http.StatusBadRequest, "a user name is 1 to 32 of a-z, 0-9, _ and -\n")
		return
	}
	// SameSite=Lax: other sites' pages cannot POST as the user.
	c.SetSameSite(http.SameSiteLaxMode)
	c.SetCookie(userCookie, name, 0, "/", "", false, true)
	c.Redirect(http.StatusSeeOther, "/")
}

// requireUser is the auth middleware, a stand-in for real auth like
// login: it sets "user" in the gin context to the name in the login
// cookie, or refuses the request with 401 and a login form, before any
// stream starts.
func requireUser(c *gin.Context) {
	name, err := c.Cookie(userCookie)
	if err != nil || !validName.MatchString(name) {
		c.Data(http.StatusUnauthorized, "text/html; charset=utf-8", []byte(loginForm))
		c.Abort()
		return
	}
	c.Set("user", name)
}

// loginForm is the body of a 401: a form that logs in.
const loginForm = `<!doctype html>
<title>Log in</title>
<form action="/login">Not logged in. Log in as <input name="user" pattern="[a-z0-9_\-]{1,32}" required> <button>Log in</button></form>
`

// notification is the JSON data of a "notification" event.
type notification struct {
	From string    `json:"from"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// notify answers POST /notify?to=<name>: the body, UTF-8 text of up to
// 4 KiB, goes to that user from the logged-in one, as a notification
// event on the user's topic. It answers 204 once the event is published.
func notify(hub *sse.Hub) gin.HandlerFunc {
	return func(c *gin.Context) {
		to := c.Query("to")
		if !validName.MatchString(to) {
			c.String(http.StatusBadRequest, "to= names the user to notify\n")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 4<<10))
		if err != nil {
			c.String(http.StatusRequestEntityTooLarge, "the text is at most 4 KiB\n")
			return
		}
		text := strings.TrimSpace(string(body))
		if text == "" || !utf8.ValidString(text) {
			c.String(http.StatusBadRequest, "the body is the notification's text, in UTF-8\n")
			return
		}
		n := notification{From: c.GetString("user"), Text: text, At: time.Now().UTC()}
		ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
		defer cancel()
		if err := hub.Publish(ctx, sse.Event{Type: "notification", JSON: n}, topic(to)); err != nil {
			c.String(http.StatusServiceUnavailable, "not sent: %v\n", err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// logoutReason is the data of the sse-end event that ends the streams of a
// user who logged out.
const logoutReason = "logged out"

// logout answers POST /logout: it ends every stream of the logged-in
// user, each with an sse-end event whose data is logoutReason (on every
// server, were the hub's log shared), then clears the login. The user's
// other pages see the end too: a logout ends the user's streams
// everywhere.
func logout(hub *sse.Hub) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
		defer cancel()
		if err := hub.End(ctx, logoutReason, topic(c.GetString("user"))); err != nil {
			c.String(http.StatusServiceUnavailable, "not logged out: %v\n", err)
			return
		}
		c.SetSameSite(http.SameSiteLaxMode)
		c.SetCookie(userCookie, "", -1, "/", "", false, true)
		c.Status(http.StatusNoContent)
	}
}

// stats answers GET /stats with the hub's counters as JSON: the open
// streams (Subscribers), the events published, those dropped. An app
// would hand them to its monitoring; the browser tests wait on them.
func stats(hub *sse.Hub) gin.HandlerFunc {
	return func(c *gin.Context) { c.JSON(http.StatusOK, hub.Stats()) }
}

// page is the page of a logged-in user, whose EventSource shows the
// user's notifications live.
//
//go:embed index.html
var pageHTML string

var page = template.Must(template.New("page").Parse(pageHTML))

// servePage writes the page for the logged-in user.
func servePage(c *gin.Context) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	if err := page.Execute(c.Writer, c.GetString("user")); err != nil {
		log.Printf("page: %v", err)
	}
}
