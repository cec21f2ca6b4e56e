// resp.go — a small Redis client speaking RESP2 by hand: a few pooled
// connections, AUTH/SELECT from a redis:// URL, one command or a pipeline at a
// time, every command timed into redis_operation_duration_seconds{command}.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redisError is an error reply (-ERR ...).
type redisError string

func (e redisError) Error() string { return string(e) }

type redisConn struct {
	nc     net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
	broken bool
}

type redisClient struct {
	addr, user, password string
	db                   int
	mu                   sync.Mutex
	idle                 []*redisConn
	duration             *vec
}

// newRedis parses redis://[user:password@]host:port[/db].
func newRedis(rawurl string, reg *registry) (*redisClient, error) {
	u, err := url.Parse(rawurl)
	if err != nil || u.Scheme != "redis" {
		return nil, fmt.Errorf("bad Redis URL (want redis://[user:]password@host:port[/db])") /* no echo: it may hold a password */
	}
	c := &redisClient{addr: u.Host}
	if u.Port() == "" {
		c.addr = net.JoinHostPort(u.Hostname(), "6379")
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
		if c.password == "" { /* redis://:pw@ and redis://pw@ both mean a password */
			c.password, c.user = c.user, ""
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if c.db, err = strconv.Atoi(db); err != nil {
			return nil, fmt.Errorf("bad Redis database %q", db)
		}
	}
	c.duration = reg.histogram("redis_operation_duration_seconds", "Duration of Redis commands by command.",
		[]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}, "command")
	return c, nil
}

func (c *redisClient) host() string { h, _, _ := net.SplitHostPort(c.addr); return h }

func (c *redisClient) dial() (*redisConn, error) {
	nc, err := net.DialTimeout("tcp", c.addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	rc := &redisConn{nc: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}
	var setup [][]string
	if c.password != "" {
		if c.user != "" {
			setup = append(setup, []string{"AUTH", c.user, c.password})
		} else {
			setup = append(setup, []string{"AUTH", c.password})
		}
	}
	if c.db != 0 {
		setup = append(setup, []string{"SELECT", strconv.Itoa(c.db)})
	}
	for _, cmd := range setup {
		if _, err := rc.roundTrip([][]string{cmd}); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return rc, nil
}

func (rc *redisConn) writeCommand(args []string) {
	fmt.Fprintf(rc.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(rc.w, "$%d\r\n%s\r\n", len(a), a)
	}
}

// roundTrip sends a pipeline and reads one reply per command. Error replies
// are returned in place (as redisError values), transport errors break the
// connection.
func (rc *redisConn) roundTrip(cmds [][]string) ([]interface{}, error) {
	rc.nc.SetDeadline(time.Now().Add(10 * time.Second))
	for _, cmd := range cmds {
		rc.writeCommand(cmd)
	}
	if err := rc.w.Flush(); err != nil {
		rc.broken = true
		return nil, err
	}
	out := make([]interface{}, len(cmds))
	for i := range cmds {
		v, err := rc.readReply()
		if err != nil {
			rc.broken = true
			return nil, err
		}
		out[i] = v
	}
	if len(out) == 1 {
		if e, ok := out[0].(redisError); ok {
			return out, e
		}
	}
	return out, nil
}

// readReply decodes one RESP2 value: string, redisError, int64, nil ([]byte
// bulk strings become string), or []interface{}.
func (rc *redisConn) readReply() (interface{}, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, errors.New("resp: empty line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return redisError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		arr := make([]interface{}, n)
		for i := range arr {
			if arr[i], err = rc.readReply(); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("resp: unexpected reply %q", line)
}

func (c *redisClient) get() (*redisConn, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		rc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return rc, nil
	}
	c.mu.Unlock()
	return c.dial()
}

func (c *redisClient) put(rc *redisConn) {
	if rc.broken {
		rc.nc.Close()
		return
	}
	c.mu.Lock()
	if len(c.idle) < 8 {
		c.idle = append(c.idle, rc)
		rc = nil
	}
	c.mu.Unlock()
	if rc != nil {
		rc.nc.Close()
	}
}

// Pipeline sends cmds in one round trip; the duration is recorded under the
// first command's name (with a "_pipeline" suffix when there are several).
func (c *redisClient) Pipeline(cmds [][]string) ([]interface{}, error) {
	start := time.Now()
	rc, err := c.get()
	if err != nil {
		return nil, err
	}
	out, err := rc.roundTrip(cmds)
	c.put(rc)
	name := strings.ToUpper(cmds[0][0])
	if len(cmds) > 1 {
		name += "_pipeline"
	}
	c.duration.Observe(time.Since(start).Seconds(), name)
	return out, err
}

// Do runs one command.
func (c *redisClient) Do(args ...string) (interface{}, error) {
	out, err := c.Pipeline([][]string{args})
	if out == nil {
		return nil, err
	}
	return out[0], err
}

// info returns the fields of INFO section as a map.
func (c *redisClient) info(section string) (map[string]string, error) {
	v, err := c.Do("INFO", section)
	if err != nil {
		return nil, err
	}
	s, _ := v.(string)
	m := map[string]string{}
	for _, line := range strings.Split(s, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok {
			m[k] = val
		}
	}
	return m, nil
}

// deleteMatching removes every key matching pattern (SCAN + DEL), so the
// simulator only ever flushes its own keys in a shared Redis.
func (c *redisClient) deleteMatching(pattern string) (int, error) {
	cursor, deleted := "0", 0
	for {
		v, err := c.Do("SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
		if err != nil {
			return deleted, err
		}
		arr, ok := v.([]interface{})
		if !ok || len(arr) != 2 {
			return deleted, errors.New("resp: bad SCAN reply")
		}
		cursor, _ = arr[0].(string)
		keys, _ := arr[1].([]interface{})
		if len(keys) > 0 {
			args := []string{"DEL"}
			for _, k := range keys {
				s, _ := k.(string)
				args = append(args, s)
			}
			n, err := c.Do(args...)
			if err != nil {
				return deleted, err
			}
			if i, ok := n.(int64); ok {
				deleted += int(i)
			}
		}
		if cursor == "0" {
			return deleted, nil
		}
	}
}
