// Package cluster runs the load tool's many-server scenarios, R1 to R4:
// several server processes sharing one Redis (the eventwire hub on the
// sseredis backend), with their clients spread over several client
// processes so that no process holds more than [MaxPerProcess]
// connections.
//
//   - R1, broadcast through Redis: 3 servers × 1,000 reading clients, 100
//     events published unpaced on the first server, beside the same 3,000
//     clients on one in-memory server.
//   - R2, idle at scale: up to 5 servers × 19,000 idle streams; one
//     publish timed until the last stream has it, memory per stream,
//     Redis's memory and CPU.
//   - R3, the ceiling: publish rates tried in turn until delivery p99
//     passes a second, with the CPU each process used.
//   - R4, a server killed (SIGKILL) mid-broadcast: its clients reconnect
//     to the others with their Last-Event-ID and must get every event
//     exactly once, in order.
//
// The load tool (bench/cmd/load) is every process: it re-executes itself
// with -serve IMPL for a server and with -cluster-agent for a client
// process, which reads one JSON command a line on its standard input
// (connect, arm, status, collect) and answers each with one line. Every
// client checks the events of the measured window by their number: each
// once, in order; latencies go to a histogram that the client processes
// send back and the tool merges. Redis is started by the services package
// and, like every other process, stopped by its process ID.
package cluster
