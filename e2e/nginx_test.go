package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"
)

// proxyReadTimeout is the nginx read timeout of the "timeout" site, shorter
// than the gap between events in the heartbeat check.
const proxyReadTimeout = time.Second

// nginx is Debian's nginx, run by the test as a reverse proxy on loopback
// in front of one backend. Each site of it is a server block on a port of
// its own; all of them keep nginx's defaults, proxy buffering among them,
// except the one setting the site is named for:
//
//	default  nothing changed
//	timeout  proxy_read_timeout of proxyReadTimeout
//	gzip     gzip on for text/event-stream
//
// With a certificate every site speaks HTTP/2 over TLS to the browser;
// nginx always speaks HTTP/1.0 to the backend, its default.
type nginx struct {
	*process
	sites map[string]string // site name -> its address
	log   string            // the access log
	base  string            // "http://" or "https://"
}

var nginxSites = []string{"default", "timeout", "gzip"}

var nginxConf = template.Must(template.New("nginx.conf").Parse(`
daemon off;
master_process off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;
events { worker_connections 256; }
http {
	log_format sse '$server_port $server_protocol "$request" $status encoding=$sent_http_content_encoding';
	access_log {{.Dir}}/access.log sse;
	client_body_temp_path {{.Dir}}/client_body;
	proxy_temp_path {{.Dir}}/proxy;
	fastcgi_temp_path {{.Dir}}/fastcgi;
	uwsgi_temp_path {{.Dir}}/uwsgi;
	scgi_temp_path {{.Dir}}/scgi;
{{range .Sites}}
	server {
		listen {{.Addr}}{{if $.Cert}} ssl http2{{end}};
{{- if $.Cert}}
		ssl_certificate {{$.CertFile}};
		ssl_certificate_key {{$.KeyFile}};
{{- end}}
{{- if eq .Name "timeout"}}
		proxy_read_timeout {{$.ReadTimeout}};
{{- end}}
{{- if eq .Name "gzip"}}
		gzip on;
		gzip_types text/event-stream;
{{- end}}
		location / {
			proxy_pass http://{{$.Backend}};
			# Tells the backend what the browser spoke to nginx; nothing
			# of the proxying changes.
			proxy_set_header X-Client-Protocol $server_protocol;
		}
	}
{{end}}
}
`))

// startNginx starts nginx in front of backend (host:port); with cert, its
// sites are HTTPS with HTTP/2. It skips the test when nginx is missing,
// or fails it when CI=true.
func startNginx(t *testing.T, backend string, cert *certFiles) *nginx {
	t.Helper()
	bin := lookPath(t, "NGINX", "/usr/sbin/nginx", "nginx")
	dir := t.TempDir()
	n := &nginx{sites: make(map[string]string), log: filepath.Join(dir, "access.log"), base: "http://"}
	if cert != nil {
		n.base = "https://"
	}
	type site struct{ Name, Addr string }
	var sites []site
	for _, name := range nginxSites {
		n.sites[name] = freeAddr(t)
		sites = append(sites, site{name, n.sites[name]})
	}
	data := map[string]any{
		"Dir":         dir,
		"Sites":       sites,
		"Cert":        cert != nil,
		"Backend":     backend,
		"ReadTimeout": fmt.Sprintf("%dms", proxyReadTimeout.Milliseconds()),
	}
	if cert != nil {
		data["CertFile"], data["KeyFile"] = cert.cert, cert.key
	}
	var conf strings.Builder
	if err := nginxConf.Execute(&conf, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	n.process = start(t, exec.Command(bin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path))
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil {
				t.Logf("nginx error log:\n%s", b)
			}
		}
	})
	for _, addr := range n.sites {
		waitListening(t, n.process, addr)
	}
	return n
}

// url returns the URL of the site, without path.
func (n *nginx) url(site string) string { return n.base + n.sites[site] }

// waitLog waits until nginx's access log has a line that contains every
// one of parts, and returns it. nginx writes a request's line when the
// request ends.
func (n *nginx) waitLog(t *testing.T, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(n.log)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return strings.TrimSpace(line)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx's access log has no line with %q after %v:\n%s", parts, timeout, b)
		}
		time.Sleep(pollEvery)
	}
}
