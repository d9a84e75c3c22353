package cluster

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// RedisInfo is what the load tool reads from a Redis server's INFO.
type RedisInfo struct {
	UsedMemory int64         // bytes Redis allocated (used_memory)
	RSS        int64         // bytes resident (used_memory_rss)
	CPU        time.Duration // user + system CPU time used so far
	Clients    int           // connected_clients
}

// redisInfo asks the Redis server at addr (a loopback host:port) for INFO
// with a plain RESP command, within 5 s.
func redisInfo(addr string) (RedisInfo, error) {
	var ri RedisInfo
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return ri, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "*1\r\n$4\r\nINFO\r\n"); err != nil {
		return ri, err
	}
	br := bufio.NewReader(conn)
	head, err := br.ReadString('\n')
	if err != nil {
		return ri, err
	}
	if !strings.HasPrefix(head, "$") {
		return ri, fmt.Errorf("INFO: unexpected answer %q", strings.TrimSpace(head))
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return ri, fmt.Errorf("INFO: %w", err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return ri, err
	}
	var cpu float64
	for line := range strings.Lines(string(body)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "used_memory":
			ri.UsedMemory, _ = strconv.ParseInt(v, 10, 64)
		case "used_memory_rss":
			ri.RSS, _ = strconv.ParseInt(v, 10, 64)
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			cpu += f
		case "connected_clients":
			ri.Clients, _ = strconv.Atoi(v)
		}
	}
	ri.CPU = time.Duration(cpu * float64(time.Second))
	return ri, nil
}
