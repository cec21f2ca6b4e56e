// exec.go: pods/NAME/exec over WebSocket with the channel.k8s.io
// subprotocols (v5 preferred, then v4): the command from the `command`
// query parameters runs as a real local process; stdout goes out on channel
// 1, stderr on 2, and a metav1.Status on channel 3 (NonZeroExitCode with an
// ExitCode cause on failure); channel 0 feeds stdin, and v5's channel 255
// closes it. The command runs in the state directory with the lab's
// RB_TEST_* variables (LABDIR/*.env) and HOSTNAME=POD in its environment. RFC 6455 framing is written here by hand.
package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

type bufioReadWriter = bufio.ReadWriter

func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	return h.Hijack()
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// pickProtocol takes the client's first offered protocol that we speak
// (only `only` when the lab's fault restricts it, as an older server would).
func pickProtocol(header, only string) string {
	for _, p := range strings.Split(header, ",") {
		p = strings.TrimSpace(p)
		if (p == "v5.channel.k8s.io" || p == "v4.channel.k8s.io") && (only == "" || p == only) {
			return p
		}
	}
	return ""
}

type wsConn struct {
	conn net.Conn
	rw   *bufio.ReadWriter
	mu   sync.Mutex
}

func (c *wsConn) writeFrame(opcode byte, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	hdr := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, byte(n))
	case n <= 0xffff:
		hdr = append(hdr, 126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.rw.Write(hdr); err != nil {
		return err
	}
	if _, err := c.rw.Write(payload); err != nil {
		return err
	}
	return c.rw.Flush()
}

func (c *wsConn) writeChannel(ch byte, data []byte) error {
	return c.writeFrame(2, append([]byte{ch}, data...))
}

// readFrame returns one whole message (continuations joined) or a control frame.
func (c *wsConn) readFrame() (byte, []byte, error) {
	var msg []byte
	var first byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.rw, h[:]); err != nil {
			return 0, nil, err
		}
		fin, opcode, masked := h[0]&0x80 != 0, h[0]&0x0f, h[1]&0x80 != 0
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.rw, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.rw, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 16<<20 {
			return 0, nil, errors.New("websocket frame too large")
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(c.rw, mask[:]); err != nil {
				return 0, nil, err
			}
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.rw, payload); err != nil {
			return 0, nil, err
		}
		if masked {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		if opcode >= 8 { /* control frames may come between fragments */
			return opcode, payload, nil
		}
		if opcode != 0 {
			first = opcode
		}
		msg = append(msg, payload...)
		if fin {
			return first, msg, nil
		}
	}
}

// exitStatus is the channel-3 document kubectl turns into its exit code.
func exitStatus(argv []string, err error) obj {
	if err == nil {
		return obj{"metadata": obj{}, "status": "Success"}
	}
	code := 126
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if code < 0 {
			code = 137
		}
	case errors.Is(err, exec.ErrNotFound) || os.IsNotExist(err):
		code = 127
	}
	return obj{"metadata": obj{}, "status": "Failure",
		"message": fmt.Sprintf("command terminated with non-zero exit code: error executing command %v, exit code %d", argv, code),
		"reason":  "NonZeroExitCode",
		"details": obj{"causes": []interface{}{obj{"reason": "ExitCode", "message": fmt.Sprint(code)}}}}
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request, t target) {
	q := r.URL.Query()
	if t.res.plural != "pods" || t.sub != "exec" {
		writeErr(w, badRequest("only pods/exec is served by the lab"))
		return
	}
	pod := s.lookup(w, t.res, t.ns, t.name)
	if pod == nil {
		return
	}
	if _, e := pickContainer(pod, q.Get("container")); e != nil {
		writeErr(w, e)
		return
	}
	argv := q["command"]
	if len(argv) == 0 {
		writeErr(w, badRequest("you must specify at least 1 command"))
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeErr(w, badRequest("the lab serves exec over WebSocket (v5/v4.channel.k8s.io) only, not "+r.Header.Get("Upgrade")))
		return
	}
	s.faultMu.Lock()
	only := s.fault.ws
	s.faultMu.Unlock()
	proto := pickProtocol(r.Header.Get("Sec-WebSocket-Protocol"), only)
	if proto == "" {
		writeErr(w, badRequest("no supported subprotocol in Sec-WebSocket-Protocol (want v5.channel.k8s.io or v4.channel.k8s.io)"))
		return
	}
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + wsGUID))
	if rec, ok := w.(*recorder); ok {
		rec.status = 101
	}
	conn, rw, err := hijack(w)
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]), proto)
	if rw.Flush() != nil {
		return
	}
	ws := &wsConn{conn: conn, rw: rw}
	s.runExec(ws, argv, q.Get("stdin") == "true" || q.Get("stdin") == "1", t.name)
}

// runExec runs argv (bounded to 120 s) and streams it over ws.
func (s *Server) runExec(ws *wsConn, argv []string, withStdin bool, podName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = s.dir
	/* the lab's RB_TEST_* variables let a command reach the lab services
	   the way a container reaches its neighbours */
	cmd.Env = append(append(os.Environ(), s.labEnv()...), "HOSTNAME="+podName, "POD_NAME="+podName)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	var stdin io.WriteCloser
	if withStdin {
		stdin, _ = cmd.StdinPipe()
	}
	err := cmd.Start()
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		s.readClient(ws, stdin)
	}()
	if err == nil {
		var wg sync.WaitGroup
		for ch, rd := range map[byte]io.Reader{1: stdout, 2: stderr} {
			wg.Add(1)
			go func(ch byte, rd io.Reader) {
				defer wg.Done()
				buf := make([]byte, 32<<10)
				for {
					n, rerr := rd.Read(buf)
					if n > 0 {
						ws.writeChannel(ch, buf[:n])
					}
					if rerr != nil {
						return
					}
				}
			}(ch, rd)
		}
		wg.Wait()
		err = cmd.Wait()
	} else {
		ws.writeChannel(2, []byte(fmt.Sprintf("exec: %v\n", err)))
	}
	st, _ := json.Marshal(exitStatus(argv, err))
	ws.writeChannel(3, st)
	ws.writeFrame(8, []byte{0x03, 0xe8}) /* close, 1000 normal */
	/* give the client a moment to read and answer the close */
	select {
	case <-clientDone:
	case <-time.After(2 * time.Second):
	}
}

// readClient handles stdin frames, pings and the client's close.
func (s *Server) readClient(ws *wsConn, stdin io.WriteCloser) {
	closeStdin := func() {
		if stdin != nil {
			stdin.Close()
			stdin = nil
		}
	}
	defer closeStdin()
	for {
		op, msg, err := ws.readFrame()
		if err != nil {
			return
		}
		switch {
		case op == 8:
			return
		case op == 9:
			ws.writeFrame(10, msg)
		case (op == 2 || op == 1) && len(msg) > 0:
			switch msg[0] {
			case 0:
				if stdin != nil {
					stdin.Write(msg[1:])
				}
			case 255: /* v5: client closes a stream; [255, 0] is stdin */
				if len(msg) > 1 && msg[1] == 0 {
					closeStdin()
				}
			}
		}
	}
}
