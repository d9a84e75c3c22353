package sseredis

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
)

// Field names of a stream entry. The token comes first: the publish
// script looks for it there.
const (
	fieldToken   = "k"
	fieldTopics  = "t"
	fieldID      = "i"
	fieldType    = "e"
	fieldData    = "d"
	fieldComment = "c"
	fieldRetry   = "r"
)

var errBadEntry = errors.New("sseredis: malformed stream entry")

// entryFields returns the field-value pairs of the stream entry of msg,
// the token first.
func entryFields(token string, msg sse.Message) []any {
	ev := msg.Event
	f := make([]any, 0, 14)
	f = append(f, fieldToken, token, fieldTopics, encodeTopics(msg.Topics))
	if msg.ID != "" {
		f = append(f, fieldID, msg.ID)
	}
	if ev.Type != "" {
		f = append(f, fieldType, ev.Type)
	}
	if ev.Data != "" {
		f = append(f, fieldData, ev.Data)
	}
	if ev.Comment != "" {
		f = append(f, fieldComment, ev.Comment)
	}
	if ev.Retry > 0 {
		f = append(f, fieldRetry, strconv.FormatInt(ev.Retry.Milliseconds(), 10))
	}
	return f
}

// decodeEntry turns a stream entry back into a message. Its Pos is the
// entry's ID, and so is its ID unless the publisher chose one.
func decodeEntry(m redis.XMessage) (sse.Message, error) {
	str := func(name string) (string, error) {
		v, ok := m.Values[name]
		if !ok {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%w %s: field %q is a %T", errBadEntry, m.ID, name, v)
		}
		return s, nil
	}
	msg := sse.Message{ID: m.ID, Pos: m.ID}
	var err error
	var topics, chosen, retry string
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{fieldTopics, &topics},
		{fieldID, &chosen},
		{fieldType, &msg.Event.Type},
		{fieldData, &msg.Event.Data},
		{fieldComment, &msg.Event.Comment},
		{fieldRetry, &retry},
	} {
		if *f.dst, err = str(f.name); err != nil {
			return sse.Message{}, err
		}
	}
	if chosen != "" {
		msg.ID = chosen
	}
	if msg.Topics, err = decodeTopics(topics); err != nil {
		return sse.Message{}, fmt.Errorf("%w %s: %w", errBadEntry, m.ID, err)
	}
	if retry != "" {
		ms, err := strconv.ParseInt(retry, 10, 64)
		if err != nil || ms <= 0 || ms > int64(time.Duration(1<<63-1)/time.Millisecond) {
			return sse.Message{}, fmt.Errorf("%w %s: retry %q", errBadEntry, m.ID, retry)
		}
		msg.Event.Retry = time.Duration(ms) * time.Millisecond
	}
	return msg, nil
}

// encodeTopics writes topics as a list of length-prefixed strings,
// "4:news5:sport", so that a topic may hold any byte.
func encodeTopics(topics []string) string {
	var b strings.Builder
	for _, t := range topics {
		b.WriteString(strconv.Itoa(len(t)))
		b.WriteByte(':')
		b.WriteString(t)
	}
	return b.String()
}

// decodeTopics reads what encodeTopics wrote. At least one topic is
// required: an entry without one reaches nobody.
func decodeTopics(s string) ([]string, error) {
	var topics []string
	for s != "" {
		n, rest, ok := strings.Cut(s, ":")
		size, err := strconv.Atoi(n)
		if !ok || err != nil || size < 0 || size > len(rest) || n != strconv.Itoa(size) {
			return nil, fmt.Errorf("bad topic list at %q", s)
		}
		topics = append(topics, rest[:size])
		s = rest[size:]
	}
	if len(topics) == 0 {
		return nil, errors.New("no topic")
	}
	return topics, nil
}

// validID reports whether id has the form of a Redis stream ID as Redis
// writes it: two decimal numbers joined by a dash, without leading zeros.
func validID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	return ok && canonicalUint(ms) && canonicalUint(seq)
}

func canonicalUint(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && strconv.FormatUint(n, 10) == s
}
