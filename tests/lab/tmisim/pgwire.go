// pgwire.go — a minimal PostgreSQL client: the v3 wire protocol's startup,
// trust / cleartext / md5 / SCRAM-SHA-256 authentication, the simple query
// protocol (text results) and CancelRequest. Standard library only.
//
// Why the wire protocol and not the psql binary: the simulator needs long-lived
// sessions whose state matters (a transaction that keeps a row lock, a
// pg_sleep that must be cancelled when a fault is switched off, a pool whose
// size is the db_connections_* metrics) and a steady query rate from the load
// generator. With psql each query is a fork+exec (CPU the CI machine does not
// have), and cancelling or watching a session means scraping a child process.
// The simple query protocol is a few message types and keeps all of that in
// one process; SSL is not spoken (the lab is 127.0.0.1 only).
package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pgConfig is a parsed DSN (URL form or key=value form).
type pgConfig struct {
	Host, Port, User, Password, Database string
	Params                               map[string]string // extra startup parameters (GUCs)
}

// parseDSN accepts "postgres[ql]://user:pw@host:port/db?k=v" and
// "host=... port=... user=... password=... dbname=..." like libpq.
func parseDSN(dsn string) (pgConfig, error) {
	c := pgConfig{Host: "127.0.0.1", Port: "5432", User: "postgres", Params: map[string]string{}}
	set := func(k, v string) {
		switch k {
		case "host":
			if v != "" {
				c.Host = v
			}
		case "port":
			if v != "" {
				c.Port = v
			}
		case "user":
			c.User = v
		case "password":
			c.Password = v
		case "dbname":
			c.Database = v
		case "sslmode", "connect_timeout", "application_name":
			/* ignored: no SSL in the lab; timeouts are ours */
		default:
			c.Params[k] = v
		}
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return c, errors.New("bad DSN: not a valid URL") /* no detail: it would echo the password */
		}
		if u.User != nil {
			set("user", u.User.Username())
			if pw, ok := u.User.Password(); ok {
				set("password", pw)
			}
		}
		set("host", u.Hostname())
		set("port", u.Port())
		set("dbname", strings.TrimPrefix(u.Path, "/"))
		for k, vs := range u.Query() {
			set(k, vs[0])
		}
	} else {
		pairs, err := splitDSN(dsn)
		if err != nil {
			return c, err
		}
		for _, kv := range pairs {
			set(kv[0], kv[1])
		}
	}
	if c.Database == "" {
		c.Database = c.User
	}
	return c, nil
}

// splitDSN parses libpq's key=value form: values may be 'quoted' with \'
// and \\ escapes.
func splitDSN(dsn string) ([][2]string, error) {
	var out [][2]string
	i := 0
	for {
		for i < len(dsn) && dsn[i] == ' ' {
			i++
		}
		if i == len(dsn) {
			return out, nil
		}
		eq := strings.IndexByte(dsn[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("bad DSN: field %d has no =", len(out)+1)
		}
		key := strings.TrimSpace(dsn[i : i+eq])
		i += eq + 1
		var val strings.Builder
		quoted := i < len(dsn) && dsn[i] == '\''
		if quoted {
			i++
		}
		for ; i < len(dsn); i++ {
			ch := dsn[i]
			if ch == '\\' && i+1 < len(dsn) {
				i++
				val.WriteByte(dsn[i])
			} else if quoted && ch == '\'' {
				i++
				break
			} else if !quoted && ch == ' ' {
				break
			} else {
				val.WriteByte(ch)
			}
		}
		out = append(out, [2]string{key, val.String()})
	}
}

// keyValue renders the libpq key=value form (what psql and libpq accept).
func (c pgConfig) keyValue() string {
	q := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	parts := []string{}
	for _, kv := range [][2]string{{"host", c.Host}, {"port", c.Port}, {"user", c.User},
		{"password", c.Password}, {"dbname", c.Database}} {
		if kv[1] == "" {
			continue
		}
		if strings.ContainsAny(kv[1], ` '\\`) {
			parts = append(parts, kv[0]+"='"+q.Replace(kv[1])+"'")
		} else {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

// network returns the dial arguments; a host starting with '/' is a socket dir.
func (c pgConfig) network() (string, string) {
	if strings.HasPrefix(c.Host, "/") {
		return "unix", c.Host + "/.s.PGSQL." + c.Port
	}
	return "tcp", net.JoinHostPort(c.Host, c.Port)
}

// PGError is an ErrorResponse from the server.
type PGError struct{ Severity, Code, Message string }

func (e *PGError) Error() string { return e.Severity + " " + e.Code + ": " + e.Message }

// Result is the last result set of a simple query.
type Result struct {
	Cols []string
	Rows [][]*string
	Tag  string
}

// PGConn is one session. Not safe for concurrent use.
type PGConn struct {
	cfg       pgConfig
	nc        net.Conn
	r         *bufio.Reader
	pid, key  uint32
	broken    bool
	createdAt time.Time
}

func pgConnect(cfg pgConfig, timeout time.Duration) (*PGConn, error) {
	netw, addr := cfg.network()
	nc, err := net.DialTimeout(netw, addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &PGConn{cfg: cfg, nc: nc, r: bufio.NewReader(nc), createdAt: time.Now()}
	nc.SetDeadline(time.Now().Add(timeout))
	if err := c.startup(); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *PGConn) Close() {
	if c.nc != nil {
		c.send('X', nil)
		c.nc.Close()
	}
	c.broken = true
}

// send writes one message: type byte (0 for none), length, body.
func (c *PGConn) send(typ byte, body []byte) error {
	buf := make([]byte, 0, 5+len(body))
	if typ != 0 {
		buf = append(buf, typ)
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(4+len(body)))
	buf = append(buf, body...)
	_, err := c.nc.Write(buf)
	if err != nil {
		c.broken = true
	}
	return err
}

func (c *PGConn) recv() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		c.broken = true
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
	if n < 0 || n > 1<<28 {
		c.broken = true
		return 0, nil, errors.New("pgwire: bad message length")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.broken = true
		return 0, nil, err
	}
	return hdr[0], body, nil
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func (c *PGConn) startup() error {
	body := binary.BigEndian.AppendUint32(nil, 196608) /* protocol 3.0 */
	params := map[string]string{"user": c.cfg.User, "database": c.cfg.Database, "application_name": "tmisim"}
	for k, v := range c.cfg.Params {
		params[k] = v
	}
	for k, v := range params {
		body = append(body, cstr(k)...)
		body = append(body, cstr(v)...)
	}
	body = append(body, 0)
	if err := c.send(0, body); err != nil {
		return err
	}
	var scram *scramState
	for {
		typ, msg, err := c.recv()
		if err != nil {
			return err
		}
		switch typ {
		case 'R':
			if scram, err = c.auth(msg, scram); err != nil {
				return err
			}
		case 'K':
			c.pid, c.key = binary.BigEndian.Uint32(msg), binary.BigEndian.Uint32(msg[4:])
		case 'E':
			return parseError(msg)
		case 'Z':
			return nil
		}
	}
}

// auth answers one AuthenticationXXX message.
func (c *PGConn) auth(msg []byte, s *scramState) (*scramState, error) {
	code := binary.BigEndian.Uint32(msg)
	switch code {
	case 0: /* AuthenticationOk */
		return s, nil
	case 3: /* cleartext */
		return s, c.send('p', cstr(c.cfg.Password))
	case 5: /* md5: "md5" + md5(md5(password + user) + salt) */
		inner := md5.Sum([]byte(c.cfg.Password + c.cfg.User))
		outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), msg[4:8]...))
		return s, c.send('p', cstr("md5"+hex.EncodeToString(outer[:])))
	case 10: /* SASL: mechanism list */
		if !strings.Contains(string(msg[4:]), "SCRAM-SHA-256\x00") {
			return s, errors.New("pgwire: server offers no SCRAM-SHA-256")
		}
		s = newScram(c.cfg.Password)
		first := s.clientFirst()
		body := cstr("SCRAM-SHA-256")
		body = binary.BigEndian.AppendUint32(body, uint32(len(first)))
		return s, c.send('p', append(body, first...))
	case 11: /* SASLContinue */
		if s == nil {
			return s, errors.New("pgwire: SASL continue before start")
		}
		final, err := s.clientFinal(string(msg[4:]))
		if err != nil {
			return s, err
		}
		return s, c.send('p', []byte(final))
	case 12: /* SASLFinal */
		if s == nil || !s.verifyServer(string(msg[4:])) {
			return s, errors.New("pgwire: SCRAM server signature mismatch")
		}
		return s, nil
	}
	return s, fmt.Errorf("pgwire: unsupported authentication method %d", code)
}

func parseError(msg []byte) *PGError {
	e := &PGError{}
	for len(msg) > 1 {
		f := msg[0]
		end := 1
		for end < len(msg) && msg[end] != 0 {
			end++
		}
		v := string(msg[1:end])
		switch f {
		case 'S':
			e.Severity = v
		case 'C':
			e.Code = v
		case 'M':
			e.Message = v
		}
		if end >= len(msg) {
			break
		}
		msg = msg[end+1:]
	}
	return e
}

// Query runs sql with the simple query protocol and returns the last result
// set. A deadline bounds the whole exchange; if it passes, the session is
// cancelled server-side and marked broken (the caller drops it).
func (c *PGConn) Query(sql string, deadline time.Time) (*Result, error) {
	if c.broken {
		return nil, errors.New("pgwire: connection is broken")
	}
	c.nc.SetDeadline(deadline)
	defer c.nc.SetDeadline(time.Time{})
	if err := c.send('Q', cstr(sql)); err != nil {
		return nil, err
	}
	res := &Result{}
	var qerr error
	for {
		typ, msg, err := c.recv()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.Cancel()
			}
			return nil, err
		}
		switch typ {
		case 'T':
			res = &Result{Cols: parseRowDescription(msg)}
		case 'D':
			res.Rows = append(res.Rows, parseDataRow(msg))
		case 'C':
			res.Tag = strings.TrimRight(string(msg), "\x00")
		case 'E':
			pe := parseError(msg)
			if pe.Severity == "FATAL" || pe.Severity == "PANIC" {
				c.broken = true
			}
			qerr = pe
		case 'Z':
			return res, qerr
		}
	}
}

// WaitClosed blocks until the server closes the session (terminated backend,
// idle-in-transaction timeout) or the deadline passes; used by faults that
// hold a session open so they notice when an operator ends it.
func (c *PGConn) WaitClosed(deadline time.Time) error {
	c.nc.SetReadDeadline(deadline)
	for {
		typ, msg, err := c.recv()
		if err != nil {
			return err
		}
		if typ == 'E' {
			c.broken = true
			return parseError(msg)
		}
	}
}

func parseRowDescription(msg []byte) []string {
	n := int(binary.BigEndian.Uint16(msg))
	cols := make([]string, 0, n)
	p := 2
	for i := 0; i < n && p < len(msg); i++ {
		end := p
		for end < len(msg) && msg[end] != 0 {
			end++
		}
		cols = append(cols, string(msg[p:end]))
		p = end + 1 + 18 /* table oid, attnum, type oid, typlen, typmod, format */
	}
	return cols
}

func parseDataRow(msg []byte) []*string {
	n := int(binary.BigEndian.Uint16(msg))
	row := make([]*string, n)
	p := 2
	for i := 0; i < n && p+4 <= len(msg); i++ {
		l := int(int32(binary.BigEndian.Uint32(msg[p:])))
		p += 4
		if l < 0 {
			continue
		}
		v := string(msg[p : p+l])
		row[i] = &v
		p += l
	}
	return row
}

// Cancel sends a CancelRequest for this session on a new connection.
func (c *PGConn) Cancel() error {
	netw, addr := c.cfg.network()
	nc, err := net.DialTimeout(netw, addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	b := binary.BigEndian.AppendUint32(nil, 16)
	b = binary.BigEndian.AppendUint32(b, 80877102)
	b = binary.BigEndian.AppendUint32(b, c.pid)
	b = binary.BigEndian.AppendUint32(b, c.key)
	_, err = nc.Write(b)
	return err
}

// quoteLiteral makes a SQL string literal (standard_conforming_strings on).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, "\x00", ""), "'", "''") + "'"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// --- SCRAM-SHA-256 (RFC 5802 / 7677), no channel binding ---

type scramState struct {
	user, password, nonce, clientFirstBare, authMessage string
	saltedPassword                                      []byte
}

func newScram(password string) *scramState {
	b := make([]byte, 18)
	rand.Read(b)
	return &scramState{password: password, nonce: base64.StdEncoding.EncodeToString(b)}
}

func (s *scramState) clientFirst() string {
	s.clientFirstBare = "n=" + s.user + ",r=" + s.nonce /* PostgreSQL ignores n= */
	return "n,," + s.clientFirstBare
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// pbkdf2One is PBKDF2-HMAC-SHA256 for one 32-byte block (SCRAM's Hi()).
func pbkdf2One(password, salt []byte, iter int) []byte {
	u := hmacSHA256(password, append(append([]byte{}, salt...), 0, 0, 0, 1))
	out := append([]byte{}, u...)
	for i := 1; i < iter; i++ {
		u = hmacSHA256(password, u)
		for j := range out {
			out[j] ^= u[j]
		}
	}
	return out
}

func (s *scramState) clientFinal(serverFirst string) (string, error) {
	var nonce, salt string
	iter := 0
	for _, part := range strings.Split(serverFirst, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "r":
			nonce = v
		case "s":
			salt = v
		case "i":
			iter, _ = strconv.Atoi(v)
		}
	}
	rawSalt, err := base64.StdEncoding.DecodeString(salt)
	if err != nil || !strings.HasPrefix(nonce, s.nonce) || iter < 1 {
		return "", errors.New("pgwire: bad SCRAM server-first message")
	}
	s.saltedPassword = pbkdf2One([]byte(s.password), rawSalt, iter)
	withoutProof := "c=biws,r=" + nonce
	s.authMessage = s.clientFirstBare + "," + serverFirst + "," + withoutProof
	clientKey := hmacSHA256(s.saltedPassword, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	sig := hmacSHA256(stored[:], []byte(s.authMessage))
	for i := range clientKey {
		clientKey[i] ^= sig[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(clientKey), nil
}

func (s *scramState) verifyServer(serverFinal string) bool {
	serverKey := hmacSHA256(s.saltedPassword, []byte("Server Key"))
	want := base64.StdEncoding.EncodeToString(hmacSHA256(serverKey, []byte(s.authMessage)))
	return strings.TrimSpace(serverFinal) == "v="+want
}
