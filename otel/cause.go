package sseotel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"

	sse "github.com/eventwire/sse/core"
)

// The values of [EndCauseKey].
const (
	causeClientLeft   = "client_left"
	causeSlow         = "slow"
	causeWriteTimeout = "write_timeout"
	causeShutdown     = "shutdown"
	causeEnded        = "ended"
	causeMaxLifetime  = "max_lifetime"
	causeError        = "error"
)

// otherError is error.type's value for an error of no known type.
const otherError = "_OTHER"

// EndCause returns the value of sse.end.cause for a stream that ended
// for cause (see [sse.Observer.StreamEnd]):
//
//   - "ended": the stream's function returned nil with the stream open
//     (the server was done, or [sse.Hub.End] ended the subscription);
//   - "slow": a hub disconnected the slow client ([sse.ErrSlowClient]);
//   - "write_timeout": a write to the client took longer than the write
//     timeout;
//   - "shutdown": the server ([sse.EndOnShutdown], [sse.DrainOnShutdown])
//     or the hub shut down;
//   - "max_lifetime": the stream reached its lifetime
//     ([sse.WithMaxLifetime]);
//   - "client_left": the request's context ended, or a write failed
//     because the connection was gone;
//   - "error": the stream's function returned another error.
func EndCause(cause error) string {
	switch {
	case cause == nil, errors.Is(cause, sse.ErrEnded):
		return causeEnded
	case errors.Is(cause, sse.ErrSlowClient):
		return causeSlow
	case errors.Is(cause, http.ErrServerClosed), errors.Is(cause, sse.ErrHubClosed):
		return causeShutdown
	case errors.Is(cause, sse.ErrMaxLifetime):
		return causeMaxLifetime
	case isTimeout(cause):
		return causeWriteTimeout
	case errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded), errors.Is(cause, sse.ErrClosed):
		return causeClientLeft
	}
	return causeError
}

// isTimeout reports whether err is a write's deadline passing.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeErrorType returns error.type's value for a failed write.
func writeErrorType(err error) string {
	if isTimeout(err) {
		return causeWriteTimeout
	}
	return otherError
}

// The values of [ReconnectCauseKey].
const (
	reconnectEOF    = "eof"
	reconnectIdle   = "idle_timeout"
	reconnectStatus = "status"
	reconnectError  = "error"
)

// ReconnectCause returns the value of sse.client.reconnects's
// sse.reconnect.cause for a reconnection's cause (see
// [sse.Reconnect.Cause]):
//
//   - "eof": the server ended the response;
//   - "idle_timeout": nothing arrived for the idle timeout
//     ([sse.WithIdleTimeout]);
//   - "status": the server answered with a status the client retries;
//   - "error": the connection failed or was cut.
func ReconnectCause(cause error) string {
	switch {
	case errors.Is(cause, io.EOF):
		return reconnectEOF
	case errors.Is(cause, sse.ErrIdleTimeout):
		return reconnectIdle
	case errors.Is(cause, sse.ErrBadStatus):
		return reconnectStatus
	}
	return reconnectError
}
