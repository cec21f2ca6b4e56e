#!/usr/bin/env python3
"""payload.py — Alertmanager webhook (version 4) bodies for the serve tests.

  payload.py SECTION N PREFIX [--status resolved] [--labels JSON] [--spread-namespace]
             [--files K --out DIR]

N alerts asking for SECTION (the `runbook` annotation export-alerts writes),
fingerprints PREFIX-1..N; --spread-namespace gives each its own namespace
(a target of its own); --files K writes K bodies DIR/PREFIX-1.json.. with N
alerts each (fingerprints PREFIX-k-i) instead of printing one."""
import argparse, json, os

ap = argparse.ArgumentParser()
ap.add_argument("section"); ap.add_argument("n", type=int); ap.add_argument("prefix")
ap.add_argument("--status", default="firing"); ap.add_argument("--labels", default="{}")
ap.add_argument("--spread-namespace", action="store_true")
ap.add_argument("--files", type=int, default=0); ap.add_argument("--out", default=".")
a = ap.parse_args()
book, sec = a.section.split("/")

def body(prefix):
    alerts = []
    for i in range(1, a.n + 1):
        labels = {"alertname": "Test" + sec.title(), "book": book, "severity": "critical",
                  "instance": "%s-%d" % (prefix, i)}
        labels.update(json.loads(a.labels))
        if a.spread_namespace:
            labels["namespace"] = "ns-%s-%d" % (prefix, i)
        alerts.append({"status": a.status, "labels": labels,
                       "annotations": {"runbook": "runbook run " + a.section, "summary": "test"},
                       "startsAt": "2026-11-29T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                       "generatorURL": "", "fingerprint": "%s-%d" % (prefix, i)})
    return json.dumps({"version": "4", "groupKey": "{}:{alertname=\"%s\"}" % prefix, "truncatedAlerts": 0,
                       "status": a.status, "receiver": "runbook", "groupLabels": {}, "commonLabels": {},
                       "commonAnnotations": {}, "externalURL": "http://127.0.0.1", "alerts": alerts})

if a.files:
    for k in range(1, a.files + 1):
        with open(os.path.join(a.out, "%s-%d.json" % (a.prefix, k)), "w") as f:
            f.write(body("%s-%d" % (a.prefix, k)))
else:
    print(body(a.prefix))
