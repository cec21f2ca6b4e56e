// pprofgo is the lab's Go test program for rb.pprof: standard library only,
// listening on 127.0.0.1 with net/http/pprof. It makes profiles whose content
// is known: CPU burnt in main.burnHash / main.burnSort (and main.mix, small
// enough to be inlined into main.burnHash) under pprof labels phase=hash|sort,
// memory retained by main.allocLarge and main.allocSmall, goroutines parked in
// known waits (one of them labelled role=labelled). Extra endpoints:
//
//	/burn?seconds=N   burn CPU for N seconds (in the background)
//	/count            runtime.NumGoroutine(), as text
//	/dump?debug=N     the goroutine profile with the count taken in the same
//	                  handler, in the X-Goroutine-Count header
//	/leak?n=N         start N goroutines that block forever in main.leakWorker
//	/big?goroutines=N park N more goroutines (bench: huge debug=2 dumps)
//	/bigheap?stacks=N retain one object from each of N distinct call stacks,
//	                  every allocation sampled (bench: huge heap profiles)
//
// Flags: -addr (default 127.0.0.1:0), -portfile (written once listening),
// -parked (goroutines per known wait), -retain (MB kept by allocLarge).
package main

import (
	"context"
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

// burn runs the burners under pprof labels phase=hash and phase=sort, so CPU
// samples carry string labels.
func burn(d time.Duration) {
	end := time.Now().Add(d)
	ctx := context.Background()
	for time.Now().Before(end) {
		pprof.Do(ctx, pprof.Labels("phase", "hash"), func(context.Context) { sink += burnHash(200000) })
		pprof.Do(ctx, pprof.Labels("phase", "sort"), func(context.Context) { burnSort(20000) })
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

var bigRetained [][]byte

// Four functions that call each other by the base-4 digits of code: the
// path, hence the stack, is different for every code below 4^depth.
//
//go:noinline
func walk0(code uint64, depth int) { walkNext(code, depth) }

//go:noinline
func walk1(code uint64, depth int) { walkNext(code, depth) }

//go:noinline
func walk2(code uint64, depth int) { walkNext(code, depth) }

//go:noinline
func walk3(code uint64, depth int) { walkNext(code, depth) }

//go:noinline
func walkNext(code uint64, depth int) {
	if depth == 0 {
		bigRetained = append(bigRetained, make([]byte, 64))
		return
	}
	switch code & 3 {
	case 0:
		walk0(code>>2, depth-1)
	case 1:
		walk1(code>>2, depth-1)
	case 2:
		walk2(code>>2, depth-1)
	default:
		walk3(code>>2, depth-1)
	}
}

func bigHeap(n int) {
	depth := 1
	for uint64(1)<<(2*depth) < uint64(n) {
		depth++
	}
	bigRetained = make([][]byte, 0, n)
	// Every allocation sampled from now on: profiles scale sizes by the rate
	// in force when written, so it stays 1 for the values to be exact.
	runtime.MemProfileRate = 1
	for i := 0; i < n; i++ {
		walkNext(uint64(i), depth)
	}
	runtime.GC()
}

func park(n int) {
	mu.Lock() // held forever: parkMutex goroutines wait on it
	for i := 0; i < n; i++ {
		go parkChan()
		go parkMutex()
		go parkSelect()
		go parkSleep()
	}
	go parkLocked()
	// one goroutine with a pprof label: debug=1 dumps print "# labels: {...}"
	go pprof.Do(context.Background(), pprof.Labels("role", "labelled"), func(context.Context) { parkChan() })
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
	http.HandleFunc("/bigheap", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("stacks"))
		if n <= 0 || n > 4000000 {
			n = 1000
		}
		bigHeap(n)
		fmt.Fprintln(w, "stacks", n)
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
