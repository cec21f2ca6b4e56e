// pprofgo is the lab's Go test program for rb.pprof: standard library only,
// listening on 127.0.0.1 with net/http/pprof. It makes profiles whose content
// is known: CPU burnt in main.burnHash / main.burnSort (and main.mix, small
// enough to be inlined into main.burnHash), memory retained by main.allocLarge
// and main.allocSmall, goroutines parked in known waits. Extra endpoints:
//
//	/burn?seconds=N   burn CPU for N seconds (in the background)
//	/count            runtime.NumGoroutine(), as text
//	/dump?debug=N     the goroutine profile with the count taken in the same
//	                  handler, in the X-Goroutine-Count header
//	/leak?n=N         start N goroutines that block forever in main.leakWorker
//	/big?goroutines=N park N more goroutines (bench: huge debug=2 dumps)
//
// Flags: -addr (default 127.0.0.1:0), -portfile (written once listening),
// -parked (goroutines per known wait), -retain (MB kept by allocLarge).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"
)

var (
	retained [][]byte
	small    []map[int]string
	sink     uint64
	blocked  = make(chan struct{})
	mu       sync.Mutex
	leakCh   = make(chan int)
)

// mix is tiny so the compiler inlines it: exercises inlined frames.
func mix(h, v uint64) uint64 { return (h ^ v) * 1099511628211 }

//go:noinline
func burnHash(n int) uint64 {
	h := uint64(1469598103934665603)
	for i := 0; i < n; i++ {
		h = mix(h, uint64(i))
	}
	return h
}

//go:noinline
func burnSort(n int) {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = (i * 7919) % n
	}
	sort.Ints(xs)
}

func burn(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		sink += burnHash(200000)
		burnSort(20000)
	}
}

//go:noinline
func allocLarge(mb int) {
	for i := 0; i < mb; i++ {
		retained = append(retained, make([]byte, 1<<20))
	}
}

//go:noinline
func allocSmall(n int) {
	for i := 0; i < n; i++ {
		m := make(map[int]string, 8)
		m[i] = strconv.Itoa(i)
		small = append(small, m)
	}
}

//go:noinline
func parkChan() { <-blocked }

//go:noinline
func parkMutex() { mu.Lock(); mu.Unlock() }

//go:noinline
func parkSelect() {
	select {
	case <-blocked:
	case <-leakCh:
	}
}

//go:noinline
func parkSleep() { time.Sleep(1000 * time.Hour) }

//go:noinline
func parkLocked() {
	runtime.LockOSThread()
	<-blocked
}

//go:noinline
func leakWorker() { <-leakCh }

//go:noinline
func bigWorker() { <-blocked }

func park(n int) {
	mu.Lock() // held forever: parkMutex goroutines wait on it
	for i := 0; i < n; i++ {
		go parkChan()
		go parkMutex()
		go parkSelect()
		go parkSleep()
	}
	go parkLocked()
}

func handle() {
	http.HandleFunc("/burn", func(w http.ResponseWriter, r *http.Request) {
		s, _ := strconv.Atoi(r.URL.Query().Get("seconds"))
		if s <= 0 || s > 600 {
			s = 1
		}
		go burn(time.Duration(s) * time.Second)
		fmt.Fprintln(w, "burning", s)
	})
	http.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, runtime.NumGoroutine())
	})
	http.HandleFunc("/dump", func(w http.ResponseWriter, r *http.Request) {
		debug, _ := strconv.Atoi(r.URL.Query().Get("debug"))
		n := runtime.NumGoroutine()
		w.Header().Set("X-Goroutine-Count", strconv.Itoa(n))
		pprof.Lookup("goroutine").WriteTo(w, debug)
	})
	http.HandleFunc("/leak", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		before := runtime.NumGoroutine()
		for i := 0; i < n; i++ {
			go leakWorker()
		}
		for runtime.NumGoroutine() < before+n {
			time.Sleep(time.Millisecond)
		}
		fmt.Fprintln(w, "leaked", n)
	})
	http.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("goroutines"))
		if n > 2000000 {
			n = 2000000
		}
		for i := 0; i < n; i++ {
			go bigWorker()
		}
		fmt.Fprintln(w, "parked", n)
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (127.0.0.1 only)")
	portfile := flag.String("portfile", "", "write the chosen port here")
	parked := flag.Int("parked", 5, "goroutines per known wait")
	retain := flag.Int("retain", 8, "MB retained by allocLarge")
	flag.Parse()
	runtime.MemProfileRate = 64 * 1024
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	allocLarge(*retain)
	allocSmall(20000)
	runtime.GC() // heap profiles show the state as of the last GC: make it include the above
	park(*parked)
	handle()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *portfile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		if err := os.WriteFile(*portfile, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	log.Fatal(srv.Serve(ln))
}
