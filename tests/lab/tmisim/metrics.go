// metrics.go — a hand-written Prometheus registry and text exposition (format
// 0.0.4): labelled counters and histograms, gauges and summaries computed at
// scrape time. Standard library only; names follow the seed runbook.
package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

var defaultBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// series is one label set of a vector; values are guarded by the vector's mutex.
type series struct {
	labels []string
	value  float64  // counters
	counts []uint64 // histograms: per bucket (not cumulative)
	sum    float64
	count  uint64
}

// vec is a counter or histogram family.
type vec struct {
	name, help, typ string
	labelNames      []string
	buckets         []float64
	mu              sync.Mutex
	series          map[string]*series
}

// collector writes one family at scrape time.
type collector interface{ write(w io.Writer) }

type registry struct {
	mu         sync.Mutex
	collectors []collector
}

func (r *registry) add(c collector) {
	r.mu.Lock()
	r.collectors = append(r.collectors, c)
	r.mu.Unlock()
}

func (r *registry) newVec(typ, name, help string, buckets []float64, labels ...string) *vec {
	v := &vec{name: name, help: help, typ: typ, labelNames: labels, buckets: buckets, series: map[string]*series{}}
	if len(labels) == 0 {
		v.get(nil) /* an unlabelled family is exported (as 0) from the start */
	}
	r.add(v)
	return v
}

func (r *registry) counter(name, help string, labels ...string) *vec {
	return r.newVec("counter", name, help, nil, labels...)
}

func (r *registry) histogram(name, help string, buckets []float64, labels ...string) *vec {
	return r.newVec("histogram", name, help, buckets, labels...)
}

// gaugeFunc is a family of gauges (or counters) read at scrape time.
type gaugeFunc struct {
	name, help, typ string
	fn              func() float64
}

func (g *gaugeFunc) write(w io.Writer) {
	header(w, g.name, g.help, g.typ)
	fmt.Fprintf(w, "%s %s\n", g.name, fmtFloat(g.fn()))
}

func (r *registry) gauge(name, help string, fn func() float64) {
	r.add(&gaugeFunc{name: name, help: help, typ: "gauge", fn: fn})
}

func (r *registry) counterFunc(name, help string, fn func() float64) {
	r.add(&gaugeFunc{name: name, help: help, typ: "counter", fn: fn})
}

// summaryFunc writes a summary from quantiles computed at scrape time.
type summaryFunc struct {
	name, help string
	fn         func() (q map[float64]float64, sum float64, count uint64)
}

func (s *summaryFunc) write(w io.Writer) {
	q, sum, count := s.fn()
	header(w, s.name, s.help, "summary")
	keys := make([]float64, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Float64s(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s{quantile=\"%s\"} %s\n", s.name, fmtFloat(k), fmtFloat(q[k]))
	}
	fmt.Fprintf(w, "%s_sum %s\n%s_count %d\n", s.name, fmtFloat(sum), s.name, count)
}

func (r *registry) summary(name, help string, fn func() (map[float64]float64, float64, uint64)) {
	r.add(&summaryFunc{name: name, help: help, fn: fn})
}

func (v *vec) get(labels []string) *series {
	if len(labels) != len(v.labelNames) {
		panic("metrics: " + v.name + ": wrong number of labels")
	}
	key := strings.Join(labels, "\xff")
	s := v.series[key]
	if s == nil {
		s = &series{labels: append([]string{}, labels...)}
		if v.buckets != nil {
			s.counts = make([]uint64, len(v.buckets))
		}
		v.series[key] = s
	}
	return s
}

// Add adds d to a counter.
func (v *vec) Add(d float64, labels ...string) {
	v.mu.Lock()
	v.get(labels).value += d
	v.mu.Unlock()
}

func (v *vec) Inc(labels ...string) { v.Add(1, labels...) }

// Observe records x in a histogram.
func (v *vec) Observe(x float64, labels ...string) {
	v.mu.Lock()
	s := v.get(labels)
	for i, b := range v.buckets {
		if x <= b {
			s.counts[i]++
			break
		}
	}
	s.sum += x
	s.count++
	v.mu.Unlock()
}

// Value returns a counter's value (tests and the fault list use it).
func (v *vec) Value(labels ...string) float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.get(labels).value
}

func (v *vec) write(w io.Writer) {
	v.mu.Lock()
	defer v.mu.Unlock()
	header(w, v.name, v.help, v.typ)
	keys := make([]string, 0, len(v.series))
	for k := range v.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := v.series[k]
		if v.typ != "histogram" {
			fmt.Fprintf(w, "%s%s %s\n", v.name, labelText(v.labelNames, s.labels, "", ""), fmtFloat(s.value))
			continue
		}
		var cum uint64
		for i, b := range v.buckets {
			cum += s.counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", v.name, labelText(v.labelNames, s.labels, "le", fmtFloat(b)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", v.name, labelText(v.labelNames, s.labels, "le", "+Inf"), s.count)
		fmt.Fprintf(w, "%s_sum%s %s\n", v.name, labelText(v.labelNames, s.labels, "", ""), fmtFloat(s.sum))
		fmt.Fprintf(w, "%s_count%s %d\n", v.name, labelText(v.labelNames, s.labels, "", ""), s.count)
	}
}

func (r *registry) write(w io.Writer) {
	r.mu.Lock()
	cs := append([]collector{}, r.collectors...)
	r.mu.Unlock()
	for _, c := range cs {
		c.write(w)
	}
}

func header(w io.Writer, name, help, typ string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// labelText renders {a="x",b="y"} with an optional extra pair (le).
func labelText(names, values []string, extraName, extraValue string) string {
	if len(names) == 0 && extraName == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, n, labelEscaper.Replace(values[i]))
	}
	if extraName != "" {
		if len(names) > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, extraName, extraValue)
	}
	b.WriteByte('}')
	return b.String()
}

func fmtFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
