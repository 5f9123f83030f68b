package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// StreamMessage is one message of a subscription: a result (Data and/or Errors), or the end
// of the stream (Done; Errors then carry the reason if the server gave one).
type StreamMessage struct {
	Data   json.RawMessage `json:"data"`
	Errors []GQLError      `json:"errors"`
	Done   bool            `json:"-"`
}

// Codes lists the error codes of the message.
func (m StreamMessage) Codes() []string {
	var out []string
	for _, e := range m.Errors {
		out = append(out, e.Code())
	}
	return out
}

// Stream is an open subscription, read by a background goroutine.
type Stream struct {
	t      testing.TB
	msgs   chan StreamMessage
	cancel context.CancelFunc
}

// Next waits up to d for the next message; it fails the test on timeout.
func (s *Stream) Next(d time.Duration) StreamMessage {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(d):
		s.t.Fatalf("no subscription message within %s", d)
		return StreamMessage{}
	}
}

// Quiet reports whether no message arrives within d (false, with the message, if one does).
func (s *Stream) Quiet(d time.Duration) (StreamMessage, bool) {
	select {
	case m := <-s.msgs:
		return m, false
	case <-time.After(d):
		return StreamMessage{}, true
	}
}

// Close ends the subscription from the client's side.
func (s *Stream) Close() { s.cancel() }

func newStream(t testing.TB) (*Stream, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stream{t: t, msgs: make(chan StreamMessage, 64), cancel: cancel}
	t.Cleanup(cancel)
	return s, ctx
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// SubscribeWS opens a graphql-transport-ws subscription to /query, sending the token in
// connection_init's payload (as a browser must). The first message is the server's answer
// to the subscription or, if connection_init was refused, a Done message with its reason.
func (e *Env) SubscribeWS(token, query string, vars map[string]any) *Stream {
	e.T.Helper()
	s, ctx := newStream(e.T)
	url := "ws" + strings.TrimPrefix(e.HTTP.URL, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		e.T.Fatalf("websocket dial: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	init, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + token})
	sub, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: init}); err != nil {
		e.T.Fatalf("connection_init: %v", err)
	}
	go func() {
		defer close(s.msgs)
		defer conn.CloseNow()
		for {
			var m wsMessage
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				s.msgs <- StreamMessage{Done: true, Errors: []GQLError{{Message: err.Error(), Extensions: map[string]any{"code": closeCode(err)}}}}
				return
			}
			switch m.Type {
			case "connection_ack":
				_ = wsjson.Write(ctx, conn, wsMessage{ID: "1", Type: "subscribe", Payload: sub})
			case "ping":
				_ = wsjson.Write(ctx, conn, wsMessage{Type: "pong"})
			case "next":
				var r StreamMessage
				_ = json.Unmarshal(m.Payload, &r)
				s.msgs <- r
			case "error":
				var errs []GQLError
				_ = json.Unmarshal(m.Payload, &errs)
				s.msgs <- StreamMessage{Errors: errs}
			case "complete":
				s.msgs <- StreamMessage{Done: true}
				return
			}
		}
	}()
	return s
}

// closeCode names a websocket close status (e.g. "4403") for a Done message.
func closeCode(err error) string {
	if c := websocket.CloseStatus(err); c != -1 {
		return "WS_CLOSE_" + strings.TrimPrefix(c.String(), "StatusCode(")
	}
	return "WS_CLOSED"
}

// SubscribeSSE opens a subscription over Server-Sent Events (POST /query, Accept:
// text/event-stream) with the token in the Authorization header.
func (e *Env) SubscribeSSE(token, query string, vars map[string]any) *Stream {
	e.T.Helper()
	s, ctx := newStream(e.T)
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.HTTP.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.HTTP.Client().Do(req)
	if err != nil {
		e.T.Fatalf("SSE request: %v", err)
	}
	go func() {
		defer close(s.msgs)
		defer resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			var r StreamMessage
			_ = json.NewDecoder(resp.Body).Decode(&r)
			r.Done = true
			s.msgs <- r
			return
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
				if event == "complete" {
					s.msgs <- StreamMessage{Done: true}
					return
				}
			case strings.HasPrefix(line, "data: ") && event == "next":
				var r StreamMessage
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r)
				s.msgs <- r
			}
		}
		s.msgs <- StreamMessage{Done: true}
	}()
	return s
}

// Connection is one graphql-transport-ws connection on which a test sends operations one
// after another, as a long-lived browser client does.
type Connection struct {
	t    testing.TB
	ctx  context.Context
	conn *websocket.Conn
	n    int
}

// Connect opens a graphql-transport-ws connection, sending the token in connection_init's
// payload; it fails the test unless the server acknowledges it.
func (e *Env) Connect(token string) *Connection {
	e.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.T.Cleanup(cancel)
	url := "ws" + strings.TrimPrefix(e.HTTP.URL, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		e.T.Fatalf("websocket dial: %v", err)
	}
	e.T.Cleanup(func() { conn.CloseNow() })
	conn.SetReadLimit(1 << 20)
	init, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + token})
	var ack wsMessage
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: init}); err != nil {
		e.T.Fatalf("connection_init: %v", err)
	}
	if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
		e.T.Fatalf("connection_init not acknowledged: %v %+v", err, ack)
	}
	return &Connection{t: e.T, ctx: ctx, conn: conn}
}

// Do sends a query or mutation on the connection and returns its result (the next or error
// message), waiting for its complete; a connection the server closes gives a Done message
// whose error code names the close status (e.g. WS_CLOSE_StatusMessageTooBig).
func (c *Connection) Do(query string, vars map[string]any) StreamMessage {
	c.t.Helper()
	c.n++
	id := fmt.Sprint(c.n)
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(c.ctx, c.conn, wsMessage{ID: id, Type: "subscribe", Payload: payload}); err != nil {
		return StreamMessage{Done: true, Errors: []GQLError{{Message: err.Error(), Extensions: map[string]any{"code": closeCode(err)}}}}
	}
	var out StreamMessage
	for {
		var m wsMessage
		if err := wsjson.Read(c.ctx, c.conn, &m); err != nil {
			return StreamMessage{Done: true, Errors: []GQLError{{Message: err.Error(), Extensions: map[string]any{"code": closeCode(err)}}}}
		}
		switch {
		case m.ID != id:
		case m.Type == "next":
			_ = json.Unmarshal(m.Payload, &out)
		case m.Type == "error":
			_ = json.Unmarshal(m.Payload, &out.Errors)
			return out
		case m.Type == "complete":
			return out
		}
	}
}
