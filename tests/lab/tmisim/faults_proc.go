// faults_proc.go — faults inside the simulator process and its cache: slow
// endpoint, error burst, CPU burn, memory growth, goroutine leak, cache
// misses and Redis memory pressure. The
// functions that do the damage have names an operator will find in pprof
// output (main.cpuBurner, main.memoryHog, main.leakyWorker).
package main

import (
	"context"
	"crypto/sha256"
	"log"
	"math"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

var apiEndpoints = []string{"/api/v1/threat_models/{id}", "/api/v1/threat_models", "/health"}

func processFaults() []faultDef {
	return []faultDef{
		{"slow_endpoint", "adds latency (delay seconds, default 3) to one endpoint (endpoint, default " +
			apiEndpoints[0] + ")", prepareSlowEndpoint},
		{"error_burst", "answers a share (rate, default 0.5) of /api/ requests with 500", prepareErrorBurst},
		{"cpu_burn", "keeps workers (default 1) goroutines busy in main.cpuBurner", prepareCPUBurn},
		{"memory_growth", "retains step_mb (default 32) MiB a second in main.memoryHog up to cap_mb (default 480)",
			prepareMemoryGrowth},
		{"goroutine_leak", "parks n (default 6000) goroutines in main.leakyWorker, rate a second (0 = at once)",
			prepareGoroutineLeak},
		{"cache_misses", "flushes the simulator's cache keys and stops refilling them on a miss " +
			"(POST /admin/cache/warmup refills)", prepareCacheMisses},
		{"redis_memory", "fills Redis with mb (default 32) MiB of tmisim:filler:* keys, deleted when off " +
			"(they expire 30 s after the fault's duration in any case)", prepareRedisMemory},
	}
}

// untilDone waits for the fault's end, then runs cleanup.
func untilDone(ctx context.Context, cleanup func()) string {
	<-ctx.Done()
	cleanup()
	return ""
}

func prepareSlowEndpoint(a *app, p *params, d time.Duration) faultBody {
	spec := &slowSpec{
		endpoint: p.str("endpoint", apiEndpoints[0], apiEndpoints...),
		delay:    time.Duration(p.float("delay", 3, 0.1, 20) * float64(time.Second)),
	}
	return func(ctx context.Context) string {
		a.slowEndpoint.Store(spec)
		return untilDone(ctx, func() { a.slowEndpoint.Store((*slowSpec)(nil)) })
	}
}

func prepareErrorBurst(a *app, p *params, d time.Duration) faultBody {
	rate := p.float("rate", 0.5, 0.01, 1)
	return func(ctx context.Context) string {
		a.errorRate.Store(math.Float64bits(rate))
		return untilDone(ctx, func() { a.errorRate.Store(0) })
	}
}

func prepareCPUBurn(a *app, p *params, d time.Duration) faultBody {
	workers := p.int("workers", 1, 1, runtime.NumCPU())
	return func(ctx context.Context) string {
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); cpuBurner(ctx) }()
		}
		wg.Wait()
		return ""
	}
}

// cpuBurner hashes in a loop until ctx ends (checked every few thousand rounds).
func cpuBurner(ctx context.Context) {
	sum := sha256.Sum256([]byte("tmisim"))
	for {
		for i := 0; i < 5000; i++ {
			sum = sha256.Sum256(sum[:])
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func prepareMemoryGrowth(a *app, p *params, d time.Duration) faultBody {
	step := p.int("step_mb", 32, 1, 64)
	limit := p.int("cap_mb", 480, 1, 1024) /* 94 % of the lab's 512 MiB limit: Critical */
	return func(ctx context.Context) string {
		memoryHog(ctx, step<<20, limit<<20)
		debug.FreeOSMemory()
		return ""
	}
}

// memoryHog retains step bytes a second, touching every page so the memory is
// resident, until limit; everything is dropped when ctx ends.
func memoryHog(ctx context.Context, step, limit int) {
	var retained [][]byte
	total := 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if total+step <= limit {
			b := make([]byte, step)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			retained = append(retained, b)
			total += step
		}
		select {
		case <-ctx.Done():
			retained = nil
			runtime.KeepAlive(retained)
			return
		case <-tick.C:
		}
	}
}

func prepareGoroutineLeak(a *app, p *params, d time.Duration) faultBody {
	n := p.int("n", 6000, 1, 50000)
	rate := p.int("rate", 0, 0, 50000)
	return func(ctx context.Context) string {
		release := make(chan struct{})
		var wg sync.WaitGroup
		spawnLeaks(ctx, release, &wg, n, rate)
		<-ctx.Done()
		close(release)
		wg.Wait()
		return ""
	}
}

// spawnLeaks starts n leakyWorkers, rate a second (all at once when rate is 0).
func spawnLeaks(ctx context.Context, release chan struct{}, wg *sync.WaitGroup, n, rate int) {
	batch := n
	if rate > 0 {
		batch = rate
	}
	for started := 0; started < n; {
		for i := 0; i < batch && started < n; i++ {
			wg.Add(1)
			go leakyWorker(release, wg)
			started++
		}
		if started < n {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// leakyWorker blocks on a channel nobody sends on: the leak an operator
// finds in /debug/pprof/goroutine?debug=2 as "[chan receive]".
func leakyWorker(release <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-release
}

func prepareCacheMisses(a *app, p *params, d time.Duration) faultBody {
	return func(ctx context.Context) string {
		a.noCachePopulate.Store(true)
		if _, err := a.redis.deleteMatching(cachePrefix + "*"); err != nil {
			a.redisErrors.Inc()
		}
		return untilDone(ctx, func() { a.noCachePopulate.Store(false) })
	}
}

const fillerPrefix = "tmisim:filler:"

func prepareRedisMemory(a *app, p *params, d time.Duration) faultBody {
	mb := p.int("mb", 32, 1, 512)
	return func(ctx context.Context) string {
		if why := fillRedis(ctx, a.redis, mb, int((d + 30*time.Second).Seconds())); why != "" {
			log.Printf("tmisim: redis_memory: %s", why) /* full is the point: stay on */
		}
		<-ctx.Done()
		if _, err := a.redis.deleteMatching(fillerPrefix + "*"); err != nil {
			a.redisErrors.Inc()
		}
		return ""
	}
}

// fillRedis writes mb MiB as 64 KiB values, 64 to a pipeline; it stops early
// (and says why) when Redis refuses, e.g. OOM at maxmemory with noeviction.
func fillRedis(ctx context.Context, redis *redisClient, mb, ttl int) string {
	value := strings.Repeat("x", 64<<10)
	for i := 0; i < mb*16 && ctx.Err() == nil; {
		var batch [][]string
		for ; len(batch) < 64 && i < mb*16; i++ {
			batch = append(batch, []string{"SET", fillerPrefix + strconv.Itoa(i), value, "EX", strconv.Itoa(ttl)})
		}
		out, err := redis.Pipeline(batch)
		if err != nil {
			return "Redis refused: " + err.Error()
		}
		for _, r := range out {
			if e, ok := r.(redisError); ok {
				return "Redis refused: " + e.Error()
			}
		}
	}
	return ""
}
