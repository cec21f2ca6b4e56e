// config.go — run-time settings a deployment's environment would carry, so a
// resolve step that sets env (the seed's `kubectl set env ... GOGC=50`,
// DB_MAX_CONNECTIONS=50, OTEL_*...) changes something observable:
//
//	GET  /admin/config                 current values
//	POST /admin/config?KEY=VALUE&...   GOGC, GOMAXPROCS, DB_MAX_CONNECTIONS,
//	                                   DB_MAX_IDLE_CONNECTIONS, DB_MAX_LIFETIME
//	                                   are applied; any other NAME is recorded
//	POST /admin/restart                what a pod restart would clear: every
//	                                   fault off, memory returned to the OS
//
// The same variables are read from the process environment at start.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

var envName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

type settings struct {
	mu       sync.Mutex
	gogc     int
	recorded map[string]string // every variable set, applied or not
}

// applySettings validates every KEY=VALUE, then applies them all (nothing
// changes on an error).
func (a *app) applySettings(kv map[string]string) error {
	type change func()
	var changes []change
	max, idle, life := -1, -1, time.Duration(-1)
	for k, v := range kv {
		if !envName.MatchString(k) {
			return fmt.Errorf("%q is not an environment variable name", k)
		}
		n, nerr := strconv.Atoi(v)
		switch k {
		case "GOGC":
			if v == "off" {
				n, nerr = -1, nil
			}
			if nerr != nil || (n < 1 && n != -1) {
				return fmt.Errorf("GOGC=%q: want a percentage or off", v)
			}
			changes = append(changes, func() { debug.SetGCPercent(n); a.settings.gogc = n })
		case "GOMAXPROCS":
			if nerr != nil || n < 1 || n > 256 {
				return fmt.Errorf("GOMAXPROCS=%q: want 1 to 256", v)
			}
			changes = append(changes, func() { runtime.GOMAXPROCS(n) })
		case "DB_MAX_CONNECTIONS":
			if nerr != nil || n < 1 || n > 200 {
				return fmt.Errorf("DB_MAX_CONNECTIONS=%q: want 1 to 200", v)
			}
			max = n
		case "DB_MAX_IDLE_CONNECTIONS":
			if nerr != nil || n < 0 || n > 200 {
				return fmt.Errorf("DB_MAX_IDLE_CONNECTIONS=%q: want 0 to 200", v)
			}
			idle = n
		case "DB_MAX_LIFETIME":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("DB_MAX_LIFETIME=%q: want a duration such as 30m", v)
			}
			life = d
		}
	}
	a.settings.mu.Lock()
	defer a.settings.mu.Unlock()
	for _, c := range changes {
		c()
	}
	a.db.configure(max, idle, life)
	for k, v := range kv {
		a.settings.recorded[k] = v
	}
	return nil
}

// settingsFromEnv applies the known variables and records OTEL_* ones; an
// invalid value is logged and skipped, as the Go runtime does with GOGC.
func (a *app) settingsFromEnv() {
	a.settings.gogc = 100
	a.settings.recorded = map[string]string{}
	for _, e := range os.Environ() {
		k, v, _ := strings.Cut(e, "=")
		if k == "GOGC" || k == "GOMAXPROCS" || strings.HasPrefix(k, "DB_MAX_") || strings.HasPrefix(k, "OTEL_") {
			if err := a.applySettings(map[string]string{k: v}); err != nil {
				log.Printf("tmisim: environment: %v (ignored)", err)
			}
		}
	}
}

func (a *app) currentSettings() map[string]interface{} {
	max, idle, life := a.db.limits()
	a.settings.mu.Lock()
	defer a.settings.mu.Unlock()
	env := map[string]string{}
	for k, v := range a.settings.recorded {
		env[k] = v
	}
	return map[string]interface{}{
		"GOGC": a.settings.gogc, "GOMAXPROCS": runtime.GOMAXPROCS(0), "DB_MAX_CONNECTIONS": max,
		"DB_MAX_IDLE_CONNECTIONS": idle, "DB_MAX_LIFETIME": life.String(), "env": env,
	}
}

func (a *app) config(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		kv := map[string]string{}
		for k, vs := range r.URL.Query() {
			kv[k] = vs[len(vs)-1]
		}
		if err := a.applySettings(kv); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, a.currentSettings())
}

func (a *app) restart(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, fmt.Errorf("use POST"))
		return
	}
	a.faults.stopAll()
	debug.FreeOSMemory()
	a.listFaults(w, r)
}
