// procmetrics.go — process, Go runtime and Redis server metrics computed at
// scrape time: process_cpu_seconds_total from /proc/self/stat, go_memstats_*,
// go_goroutines, go_gc_duration_seconds (debug.ReadGCStats quantiles) and
// redis_memory_{used,max}_bytes from the real Redis's INFO memory.
package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

const clockTicks = 100 /* USER_HZ on Linux */

// procStat returns utime+stime in seconds and the resident set in bytes.
func procStat() (cpu, rss float64) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0
	}
	s := string(b)
	/* fields after "(comm) ": state is index 0, utime 11, stime 12, rss 21 */
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 22 {
		return 0, 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	pages, _ := strconv.ParseFloat(f[21], 64)
	return (ut + st) / clockTicks, pages * float64(os.Getpagesize())
}

// cached calls fn at most once per ttl, so one scrape reads each source once.
type cached[T any] struct {
	mu   sync.Mutex
	at   time.Time
	ttl  time.Duration
	val  T
	read func(old T) T
}

func (c *cached[T]) get() T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > c.ttl {
		c.val, c.at = c.read(c.val), time.Now()
	}
	return c.val
}

func registerProcessMetrics(reg *registry, redis *redisClient) {
	start := float64(time.Now().UnixNano()) / 1e9
	mem := &cached[runtime.MemStats]{ttl: 200 * time.Millisecond, read: func(runtime.MemStats) runtime.MemStats {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m
	}}
	reg.counterFunc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", func() float64 {
		cpu, _ := procStat()
		return cpu
	})
	reg.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", func() float64 {
		_, rss := procStat()
		return rss
	})
	reg.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
		func() float64 { return start })
	reg.gauge("go_goroutines", "Number of goroutines that currently exist.",
		func() float64 { return float64(runtime.NumGoroutine()) })
	for _, g := range []struct {
		name, help string
		fn         func(m *runtime.MemStats) uint64
	}{
		{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", func(m *runtime.MemStats) uint64 { return m.HeapInuse }},
		{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", func(m *runtime.MemStats) uint64 { return m.HeapAlloc }},
		{"go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", func(m *runtime.MemStats) uint64 { return m.HeapSys }},
		{"go_memstats_sys_bytes", "Number of bytes obtained from system.", func(m *runtime.MemStats) uint64 { return m.Sys }},
	} {
		g := g
		reg.gauge(g.name, g.help, func() float64 { m := mem.get(); return float64(g.fn(&m)) })
	}
	reg.summary("go_gc_duration_seconds", "A summary of the pause duration of garbage collection cycles.", gcSummary)
	registerRedisMemory(reg, redis)
}

func gcSummary() (map[float64]float64, float64, uint64) {
	var s debug.GCStats
	s.PauseQuantiles = make([]time.Duration, 21) /* 5 % steps over the recent pauses */
	debug.ReadGCStats(&s)
	q := map[float64]float64{}
	/* the Go client's quantiles, and 0.95, which the seed's "GC pause time" query asks for */
	for _, i := range []int{0, 5, 10, 15, 19, 20} {
		q[float64(i)/20] = s.PauseQuantiles[i].Seconds()
	}
	return q, s.PauseTotal.Seconds(), uint64(s.NumGC)
}

// registerRedisMemory exports the real Redis's used_memory and maxmemory
// (0 when Redis has no limit), read at most once a second; redis_up says
// whether the last read worked (values keep their last reading).
func registerRedisMemory(reg *registry, redis *redisClient) {
	type mem struct{ used, max, up float64 }
	info := &cached[mem]{ttl: time.Second, read: func(old mem) mem {
		m, err := redis.info("memory")
		if err != nil {
			old.up = 0
			return old
		}
		used, _ := strconv.ParseFloat(m["used_memory"], 64)
		max, _ := strconv.ParseFloat(m["maxmemory"], 64)
		return mem{used, max, 1}
	}}
	reg.gauge("redis_memory_used_bytes", "Redis used_memory (INFO memory).", func() float64 { return info.get().used })
	reg.gauge("redis_memory_max_bytes", "Redis maxmemory (INFO memory; 0 = no limit).", func() float64 { return info.get().max })
	reg.gauge("redis_up", "1 if the last INFO memory from Redis succeeded.", func() float64 { return info.get().up })
}
