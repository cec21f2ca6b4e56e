// tmisim_test.go — unit tests of the pure parts: DSN forms, SCRAM against
// RFC 7677's example exchange, and the metrics exposition format.
package main

import (
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	u, err := parseDSN("postgresql://bob:s%20cret@127.0.0.1:5433/app?sslmode=disable&lock_timeout=5s")
	if err != nil || u.User != "bob" || u.Password != "s cret" || u.Port != "5433" || u.Database != "app" ||
		u.Params["lock_timeout"] != "5s" {
		t.Fatalf("URL form: %+v %v", u, err)
	}
	kv, err := parseDSN(`host=/tmp/pg port=5444 user=postgres password='it\'s a \\ secret' dbname=postgres`)
	if err != nil || kv.Host != "/tmp/pg" || kv.Password != `it's a \ secret` || kv.Database != "postgres" {
		t.Fatalf("key=value form: %+v %v", kv, err)
	}
	back, err := parseDSN(kv.keyValue())
	if err != nil || back.Password != kv.Password || back.Host != kv.Host || back.Port != kv.Port {
		t.Fatalf("keyValue round trip: %q -> %+v %v", kv.keyValue(), back, err)
	}
	if n, a := kv.network(); n != "unix" || a != "/tmp/pg/.s.PGSQL.5444" {
		t.Fatalf("unix socket: %s %s", n, a)
	}
}

func TestSCRAMExample(t *testing.T) {
	s := &scramState{user: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO"}
	if got := s.clientFirst(); got != "n,,n=user,r=rOprNGfwEbeRWgbNEkqO" {
		t.Fatalf("client-first %q", got)
	}
	final, err := s.clientFinal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	if err != nil || final != want {
		t.Fatalf("client-final %q %v", final, err)
	}
	if !s.verifyServer("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") || s.verifyServer("v=AAAA") {
		t.Fatal("server signature check")
	}
}

func TestExposition(t *testing.T) {
	r := &registry{}
	c := r.counter("reqs_total", "Requests.", "path")
	h := r.histogram("lat_seconds", "Latency.", []float64{0.1, 1})
	r.counter("idle_total", "Never incremented.")
	c.Inc(`a"b\`)
	h.Observe(0.05)
	h.Observe(5)
	var b strings.Builder
	r.write(&b)
	for _, want := range []string{
		"# TYPE reqs_total counter\n", `reqs_total{path="a\"b\\"} 1` + "\n",
		`lat_seconds_bucket{le="0.1"} 1` + "\n", `lat_seconds_bucket{le="1"} 1` + "\n",
		`lat_seconds_bucket{le="+Inf"} 2` + "\n", "lat_seconds_sum 5.05\n", "lat_seconds_count 2\n",
		"idle_total 0\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}
