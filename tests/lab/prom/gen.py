#!/usr/bin/env python3
"""gen.py — the Prometheus lab fixture: one hour of the seed runbook's metrics
as OpenMetrics (for `promtool tsdb create-blocks-from openmetrics`) and the
answers the specs expect, computed here by hand formula, not by Prometheus.

    python3 gen.py OUT.om EXPECTED.json

The hour is fixed in the past (START..END below, 15 s resolution) so the
backfilled blocks never overlap the live head, and every query is evaluated at
a fixed `time=` inside it, aligned with the sample grid. The formulas follow
Prometheus 2.42: range selectors are closed intervals [t - range, t];
rate() is extrapolatedRate(); histogram_quantile() is bucketQuantile().
Numbers come from a small LCG so the data are the same on every machine.
Expected NaN/Inf are written as the strings "NaN", "+Inf", "-Inf".
"""
import json
import math
import sys

START = 1699999200            # 2023-11-14T22:00:00Z, a multiple of the 2 h block range
END = START + 3600
STEP = 15
EVAL = START + 3000           # instant queries are evaluated here
RANGE = 300                   # [5m]
INSTANCES = ["api-0:8080", "api-1:8080"]
ENDPOINTS = {                 # requests per second per instance, latency scale (s)
    "/api/users": (12.0, 0.040),
    "/api/orders": (8.0, 0.120),
    "/api/search": (20.0, 0.900),
    "/api/login": (5.0, 0.200),
    "/health": (2.0, 0.002),
    "/admin": (0.0, 0.050),   # no traffic: its quantile is NaN
}
STATUSES = [("200", 0.90), ("404", 0.05), ("500", 0.03), ("503", 0.02)]
LE = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf]
DB_LE = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, math.inf]
CPU_RESET_AT = START + 2910   # api-1 restarts inside the [5m] window ending at EVAL


class Lcg:
    """Numerical Recipes LCG: deterministic, independent of Python's random."""

    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFF

    def uniform(self):
        self.s = (1664525 * self.s + 1013904223) & 0xFFFFFFFF
        return self.s / 2**32


def times():
    return range(START, END + 1, STEP)


def key(labels):
    return tuple(sorted(labels.items()))


class Store:
    """Families in file order; each series a list of (t, v), t ascending."""

    def __init__(self):
        self.families = []    # (name, type, help, [(sample name, labels, points)])
        self.index = {}       # (sample name, key(labels)) -> points

    def family(self, name, typ, help_):
        fam = (name, typ, help_, [])
        self.families.append(fam)
        return fam

    def series(self, fam, sample, labels):
        pts = []
        fam[3].append((sample, labels, pts))
        self.index[(sample, key(labels))] = pts
        return pts

    def select(self, sample, **match):
        """All series of a sample name whose labels include match."""
        out = []
        for (name, k), pts in self.index.items():
            labels = dict(k)
            if name == sample and all(labels.get(a) == b for a, b in match.items()):
                out.append((labels, pts))
        return out


def fmt(v):
    if v == math.inf:
        return "+Inf"
    return repr(float(v)) if isinstance(v, float) else str(v)


def write_openmetrics(store, path):
    with open(path, "w") as f:
        for name, typ, help_, series in store.families:
            f.write("# HELP %s %s\n# TYPE %s %s\n" % (name, help_, name, typ))
            for sample, labels, pts in series:
                lab = ",".join('%s="%s"' % (k, fmt(v) if k == "le" else v)
                               for k, v in labels.items())
                for t, v in pts:
                    f.write("%s{%s} %s %d\n" % (sample, lab, fmt(v), t))
        f.write("# EOF\n")


# ---- the data -------------------------------------------------------------

def gen_http(store):
    rng = Lcg(42)
    req = store.family("http_requests", "counter", "HTTP requests by endpoint and status.")
    dur = store.family("http_request_duration_seconds", "histogram", "HTTP request latency.")
    for inst_i, inst in enumerate(INSTANCES):
        for ep, (rps, scale) in ENDPOINTS.items():
            base = {"job": "api", "instance": inst, "endpoint": ep}
            counts = {s: 0 for s, _ in STATUSES}
            req_pts = {s: store.series(req, "http_requests_total", dict(base, status=s))
                       for s, _ in STATUSES}
            buckets = [0] * len(LE)
            total, count = 0.0, 0
            b_pts = [store.series(dur, "http_request_duration_seconds_bucket", dict(base, le=le))
                     for le in LE]
            sum_pts = store.series(dur, "http_request_duration_seconds_sum", dict(base))
            cnt_pts = store.series(dur, "http_request_duration_seconds_count", dict(base))
            for i, t in enumerate(times()):
                if i > 0:
                    # load swells over the hour; instance 1 takes a bit more
                    load = 1.0 + 0.5 * math.sin(i / 40.0) + 0.2 * inst_i
                    n = int(rps * STEP * load * (0.8 + 0.4 * rng.uniform()))
                    for _ in range(n):
                        u = rng.uniform()
                        status = next((s for s, p in cumulative(STATUSES) if u < p), "200")
                        counts[status] += 1
                        v = scale * -math.log(1.0 - rng.uniform() * 0.999)
                        total += v
                        count += 1
                        for j, le in enumerate(LE):
                            if v <= le:
                                buckets[j] += 1
                for s in counts:
                    req_pts[s].append((t, counts[s]))
                for j in range(len(LE)):
                    b_pts[j].append((t, buckets[j]))
                sum_pts.append((t, total))
                cnt_pts.append((t, count))


def cumulative(pairs):
    acc, out = 0.0, []
    for s, p in pairs:
        acc += p
        out.append((s, acc))
    return out


def gen_process(store):
    rng = Lcg(7)
    cpu = store.family("process_cpu_seconds", "counter", "CPU time.")
    gor = store.family("go_goroutines", "gauge", "Goroutines.")
    heap = store.family("go_memstats_heap_inuse_bytes", "gauge", "Heap in use.")
    alloc = store.family("go_memstats_heap_alloc_bytes", "gauge", "Heap allocated.")
    gc = store.family("go_gc_duration_seconds", "summary", "GC pause.")
    for inst_i, inst in enumerate(INSTANCES):
        lab = {"job": "api", "instance": inst}
        c_pts = store.series(cpu, "process_cpu_seconds_total", lab)
        g_pts = store.series(gor, "go_goroutines", lab)
        h_pts = store.series(heap, "go_memstats_heap_inuse_bytes", lab)
        a_pts = store.series(alloc, "go_memstats_heap_alloc_bytes", lab)
        q_pts = {q: store.series(gc, "go_gc_duration_seconds", dict(lab, quantile=q))
                 for q in ("0.5", "0.95")}
        gcs_pts = store.series(gc, "go_gc_duration_seconds_sum", lab)
        gcc_pts = store.series(gc, "go_gc_duration_seconds_count", lab)
        c, gcn, gcsum = 1000.0 * (inst_i + 1), 0, 0.0
        for i, t in enumerate(times()):
            if inst_i == 1 and t == CPU_RESET_AT:
                c = 0.0   # process restart: counter reset
            c += STEP * (0.6 + 0.3 * inst_i) * (0.5 + rng.uniform())
            c_pts.append((t, round(c, 3)))
            # api-1 leaks goroutines: +3 every step
            g_pts.append((t, 50 + int(10 * rng.uniform()) + (3 * i if inst_i == 1 else 0)))
            h_pts.append((t, 200 * 2**20 + 4096 * int(1000 * rng.uniform()) + i * 65536 * inst_i))
            a_pts.append((t, 150 * 2**20 + 4096 * int(1000 * rng.uniform())))
            q_pts["0.5"].append((t, round(0.0002 + 0.0001 * rng.uniform(), 7)))
            q_pts["0.95"].append((t, round(0.001 + 0.002 * rng.uniform(), 7)))
            n = 1 + int(3 * rng.uniform())
            gcn += n
            gcsum = round(gcsum + n * 0.0004, 7)
            gcs_pts.append((t, gcsum))
            gcc_pts.append((t, gcn))


def gen_db_redis(store):
    rng = Lcg(99)
    lab = {"job": "api", "instance": INSTANCES[0]}
    def single(name, typ, help_, suffix=""):
        return store.series(store.family(name, typ, help_), name + suffix, lab)

    act = single("db_connections_active", "gauge", "Active DB connections.")
    mx = single("db_connections_max", "gauge", "DB pool size.")
    slow = single("db_slow_queries", "counter", "Slow queries.", "_total")
    qd = store.family("db_query_duration_seconds", "histogram", "DB query latency.")
    qb = [store.series(qd, "db_query_duration_seconds_bucket", dict(lab, le=le)) for le in DB_LE]
    qs = store.series(qd, "db_query_duration_seconds_sum", lab)
    qc = store.series(qd, "db_query_duration_seconds_count", lab)
    hits = single("redis_cache_hits", "counter", "Cache hits.", "_total")
    ops = single("redis_cache_operations", "counter", "Cache operations.", "_total")
    mem = single("redis_memory_used_bytes", "gauge", "Redis memory.")
    mmax = single("redis_memory_max_bytes", "gauge", "Redis maxmemory.")
    nslow, nhits, nops, qsum, qcount = 0, 0, 0, 0.0, 0
    qbuck = [0] * len(DB_LE)
    for i, t in enumerate(times()):
        act.append((t, 20 + int(60 * rng.uniform())))
        mx.append((t, 100))
        nslow += int(4 * rng.uniform())
        slow.append((t, nslow))
        for _ in range(int(30 * rng.uniform())):
            v = 0.004 * -math.log(1.0 - rng.uniform() * 0.999)
            qsum += v
            qcount += 1
            for j, le in enumerate(DB_LE):
                if v <= le:
                    qbuck[j] += 1
        for j in range(len(DB_LE)):
            qb[j].append((t, qbuck[j]))
        qs.append((t, qsum))
        qc.append((t, qcount))
        n = 500 + int(500 * rng.uniform())
        nops += n
        nhits += int(n * (0.70 + 0.25 * rng.uniform()))
        hits.append((t, nhits))
        ops.append((t, nops))
        mem.append((t, 3 * 2**30 + 2**20 * int(512 * rng.uniform())))
        mmax.append((t, 4 * 2**30))


# ---- Prometheus 2.42 semantics, by hand -------------------------------------

def window(pts, t, rng_s):
    return [(ts, v) for ts, v in pts if t - rng_s <= ts <= t]


def rate(pts, t, rng_s=RANGE, is_rate=True):
    """promql/functions.go extrapolatedRate for a counter, v2.42."""
    s = window(pts, t, rng_s)
    if len(s) < 2:
        return None
    result = s[-1][1] - s[0][1]
    prev = s[0][1]
    for _, v in s[1:]:
        if v < prev:
            result += prev
        prev = v
    to_start = float(s[0][0] - (t - rng_s))
    to_end = float(t - s[-1][0])
    sampled = float(s[-1][0] - s[0][0])
    avg = sampled / (len(s) - 1)
    if result > 0 and s[0][1] >= 0:
        to_zero = sampled * (s[0][1] / result)
        if to_zero < to_start:
            to_start = to_zero
    threshold = avg * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else avg / 2
    interval += to_end if to_end < threshold else avg / 2
    factor = interval / sampled
    if is_rate:
        factor /= rng_s
    return result * factor


def increase(pts, t, rng_s=RANGE):
    return rate(pts, t, rng_s, is_rate=False)


def instant(pts, t, lookback=300):
    s = [(ts, v) for ts, v in pts if t - lookback < ts <= t]
    return s[-1][1] if s else None


def quantile(q, buckets):
    """promql/quantile.go bucketQuantile; buckets = [(le, count)]."""
    merged = {}
    for le, c in buckets:
        merged[le] = merged.get(le, 0.0) + c
    b = sorted(merged.items())
    if b[-1][0] != math.inf or len(b) < 2:
        return math.nan
    mono = []
    for le, c in b:            # ensureMonotonic
        mono.append((le, max(c, mono[-1][1]) if mono else c))
    b = mono
    obs = b[-1][1]
    if obs == 0:
        return math.nan
    rank = q * obs
    i = next((i for i in range(len(b) - 1) if b[i][1] >= rank), len(b) - 1)
    if i == len(b) - 1:
        return b[-2][0]
    if i == 0 and b[0][0] <= 0:
        return b[0][0]
    start, end, count = 0.0, b[i][0], b[i][1]
    if i > 0:
        start = b[i - 1][0]
        count -= b[i - 1][1]
        rank -= b[i - 1][1]
    return start + (end - start) * (rank / count)


def group_sum(items, by):
    """sum by (labels) over [(labels, value)]."""
    out = {}
    for labels, v in items:
        k = key({b: labels[b] for b in by if b in labels})
        out[k] = out.get(k, 0.0) + v
    return [(dict(k), v) for k, v in out.items()]


def drop(labels, *names):
    return {k: v for k, v in labels.items() if k not in names}


# ---- expected answers -------------------------------------------------------

def rates(store, sample, t=EVAL, **match):
    return [(drop(l, "__name__"), rate(p, t)) for l, p in store.select(sample, **match)]


def hq_by(store, q, sample, by, t=EVAL):
    """histogram_quantile(q, sum by (by, le) (rate(sample[5m])))."""
    summed = group_sum(rates(store, sample, t), by + ["le"])
    groups = {}
    for labels, v in summed:
        groups.setdefault(key(drop(labels, "le")), []).append((float(labels["le"]), v))
    return [(dict(k), quantile(q, b)) for k, b in groups.items()]


def ratio(num, den, scale=1.0):
    d = {key(l): v for l, v in den}
    return [(l, v / d[key(l)] * scale) for l, v in num if key(l) in d]


def enc(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def vec(items):
    return [{"metric": l, "value": enc(v)} for l, v in items]


def gauges(store, sample, t=EVAL, with_name=True):
    out = []
    for l, p in store.select(sample):
        out.append((dict(l, __name__=sample) if with_name else l, instant(p, t)))
    return out


def expected(store):
    all_le = lambda name, q: hq_by(store, q, name, ["job", "instance", "endpoint"])
    by_ep = group_sum(rates(store, "http_requests_total"), ["endpoint"])
    total = sum(v for _, v in rates(store, "http_requests_total"))
    errors = sum(v for l, v in rates(store, "http_requests_total") if l["status"].startswith("5"))
    dur_sum = sum(v for _, v in rates(store, "http_request_duration_seconds_sum"))
    dur_cnt = sum(v for _, v in rates(store, "http_request_duration_seconds_count"))
    top3 = sorted(by_ep, key=lambda lv: -lv[1])[:3]
    cpu = [(l, v * 100) for l, v in rates(store, "process_cpu_seconds_total")]
    heap_mb = [(l, v / 1024 / 1024) for l, v in gauges(store, "go_memstats_heap_inuse_bytes", with_name=False)]
    conn_pct = ratio(gauges(store, "db_connections_active", with_name=False),
                     gauges(store, "db_connections_max", with_name=False), 100)
    hit_pct = ratio(rates(store, "redis_cache_hits_total"), rates(store, "redis_cache_operations_total"), 100)
    mem_pct = ratio(gauges(store, "redis_memory_used_bytes", with_name=False),
                    gauges(store, "redis_memory_max_bytes", with_name=False), 100)
    gc95 = [(dict(l, __name__="go_gc_duration_seconds"), instant(p, EVAL))
            for l, p in store.select("go_gc_duration_seconds", quantile="0.95")]

    cases = [
        ("p95 per series (seed)", "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))",
         all_le("http_request_duration_seconds_bucket", 0.95)),
        ("p99 per series (seed)", "histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))",
         all_le("http_request_duration_seconds_bucket", 0.99)),
        ("p95 by endpoint", "histogram_quantile(0.95, sum by (endpoint, le) (rate(http_request_duration_seconds_bucket[5m])))",
         hq_by(store, 0.95, "http_request_duration_seconds_bucket", ["endpoint"])),
        ("p95 overall", "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
         hq_by(store, 0.95, "http_request_duration_seconds_bucket", [])),
        ("mean latency", "sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))",
         [({}, dur_sum / dur_cnt)]),
        ("request rate by endpoint", "sum by (endpoint) (rate(http_requests_total[5m]))", by_ep),
        ("top 3 endpoints by request rate", "topk(3, sum by (endpoint) (rate(http_requests_total[5m])))", top3),
        ("error ratio", 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
         [({}, errors / total)]),
        ("non-5xx rate (seed)", 'sum(rate(http_requests_total{status!~"5.."}[5m]))', [({}, total - errors)]),
        ("cpu percent, with a counter reset (seed)", "rate(process_cpu_seconds_total[5m]) * 100", cpu),
        ("goroutines (seed)", "go_goroutines", gauges(store, "go_goroutines")),
        ("heap in use MiB (seed)", "go_memstats_heap_inuse_bytes / 1024 / 1024", heap_mb),
        ("gc p95 (seed)", 'go_gc_duration_seconds{quantile="0.95"}', gc95),
        ("gc rate (seed)", "rate(go_gc_duration_seconds_count[5m])", rates(store, "go_gc_duration_seconds_count")),
        ("db p95 (seed)", "histogram_quantile(0.95, rate(db_query_duration_seconds_bucket[5m]))",
         hq_by(store, 0.95, "db_query_duration_seconds_bucket", ["job", "instance"])),
        ("db pool percent (seed)", "db_connections_active / db_connections_max * 100", conn_pct),
        ("slow queries (seed)", "rate(db_slow_queries_total[5m])", rates(store, "db_slow_queries_total")),
        ("cache hit percent (seed)",
         "rate(redis_cache_hits_total[5m]) / rate(redis_cache_operations_total[5m]) * 100", hit_pct),
        ("redis memory percent (seed)", "redis_memory_used_bytes / redis_memory_max_bytes * 100", mem_pct),
    ]
    cases = [(n, q, r, EVAL) for n, q, r in cases]
    # a minute past the last sample: rate() extrapolates half a sample interval
    # beyond it rather than to the window's end
    off = END + 60
    cases += [
        ("request rate by endpoint, extrapolated", "sum by (endpoint) (rate(http_requests_total[5m]))",
         group_sum(rates(store, "http_requests_total", off), ["endpoint"]), off),
        ("cpu rate, extrapolated past the last sample", "rate(process_cpu_seconds_total[5m])",
         rates(store, "process_cpu_seconds_total", off), off),
    ]
    gor1 = store.index[("go_goroutines", key({"job": "api", "instance": INSTANCES[1]}))]
    users = store.index[("http_requests_total",
                         key({"job": "api", "instance": INSTANCES[0], "endpoint": "/api/users", "status": "200"}))]
    r_start, r_stop = START + 600, END
    return {
        "start": START, "end": END, "eval_time": EVAL,
        "instant": [{"name": n, "query": q, "time": t, "result": vec(r)} for n, q, r, t in cases],
        "value": [
            {"query": "sum(rate(http_requests_total[5m]))", "time": EVAL, "value": total},
            {"query": 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
             "time": EVAL, "value": errors / total},
        ],
        "topk_order": [l["endpoint"] for l, _ in top3],
        "range": [
            {"query": 'go_goroutines{instance="%s"}' % INSTANCES[1], "start": r_start, "stop": r_stop, "step": 60,
             "values": [[t, instant(gor1, t)] for t in range(r_start, r_stop + 1, 60)]},
            {"query": 'rate(http_requests_total{instance="%s",endpoint="/api/users",status="200"}[5m])' % INSTANCES[0],
             "start": r_start, "stop": r_stop, "step": 300,
             "values": [[t, rate(users, t)] for t in range(r_start, r_stop + 1, 300)]},
        ],
        "endpoints": sorted(ENDPOINTS),
        "instances": INSTANCES,
        "series_users": {"match": 'http_requests_total{endpoint="/api/users"}',
                         "count": len(store.select("http_requests_total", endpoint="/api/users"))},
        "nan_endpoint": "/admin",
        "slowest_endpoint": max(((l["endpoint"], v) for l, v in
                                 hq_by(store, 0.95, "http_request_duration_seconds_bucket", ["endpoint"])
                                 if not math.isnan(v)), key=lambda e: e[1])[0],
    }


def main():
    store = Store()
    gen_http(store)
    gen_process(store)
    gen_db_redis(store)
    write_openmetrics(store, sys.argv[1])
    with open(sys.argv[2], "w") as f:
        json.dump(expected(store), f, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
