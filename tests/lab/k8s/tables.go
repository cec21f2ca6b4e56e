// tables.go: meta.k8s.io/v1 Table responses, the server-side printing that
// `kubectl get` shows, with the columns of the real server's printers
// (pkg/printers/internalversion) for every kind served.
package main

import (
	"fmt"
	"strings"
)

type column struct {
	name, typ, format string
	priority          int
}

type printer struct {
	cols []column
	row  func(o obj) []interface{}
}

var nameCol = column{"Name", "string", "name", 0}
var ageCol = column{"Age", "string", "", 0}

func age(o obj) string { return humanAge(mstr(o, "metadata", "creationTimestamp")) }

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func podRow(o obj) []interface{} {
	var total, ready, restarts int
	for _, c := range mlist(o, "status", "containerStatuses") {
		if b, _ := mget(c, "ready").(bool); b {
			ready++
		}
		n, _ := mint(c, "restartCount")
		restarts += n
	}
	total = len(mlist(o, "spec", "containers"))
	phase := mstr(o, "status", "phase")
	if mget(o, "metadata", "deletionTimestamp") != nil {
		phase = "Terminating"
	}
	return []interface{}{name(o), fmt.Sprintf("%d/%d", ready, total), phase, restarts, age(o),
		orNone(mstr(o, "status", "podIP")), orNone(mstr(o, "spec", "nodeName")), "<none>", "<none>"}
}

func containerSummary(o obj) (string, string) {
	var names, images []string
	for _, c := range mlist(o, "spec", "template", "spec", "containers") {
		names = append(names, mstr(c, "name"))
		images = append(images, mstr(c, "image"))
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

func selectorString(o obj) string {
	m := map[string]string{}
	for k, v := range mmap(o, "spec", "selector", "matchLabels") {
		m[k] = fmt.Sprint(v)
	}
	return orNone(joinLabels(m))
}

func servicePorts(o obj) string {
	var ps []string
	for _, p := range mlist(o, "spec", "ports") {
		ps = append(ps, fmt.Sprintf("%s/%s", mstr(p, "port"), mstr(p, "protocol")))
	}
	return orNone(strings.Join(ps, ","))
}

func endpointsList(o obj) string {
	var eps []string
	for _, ss := range mlist(o, "subsets") {
		for _, a := range mlist(ss, "addresses") {
			for _, p := range mlist(ss, "ports") {
				eps = append(eps, mstr(a, "ip")+":"+mstr(p, "port"))
			}
		}
	}
	if len(eps) > 3 {
		return strings.Join(eps[:3], ",") + fmt.Sprintf(" + %d more...", len(eps)-3)
	}
	return orNone(strings.Join(eps, ","))
}

func nodeStatus(o obj) string {
	for _, c := range mlist(o, "status", "conditions") {
		if mstr(c, "type") == "Ready" && mstr(c, "status") == "True" {
			return "Ready"
		}
	}
	return "NotReady"
}

func nodeRoles(o obj) string {
	var roles []string
	for k := range labelsOf(o) {
		if strings.HasPrefix(k, "node-role.kubernetes.io/") {
			roles = append(roles, strings.TrimPrefix(k, "node-role.kubernetes.io/"))
		}
	}
	return orNone(strings.Join(roles, ","))
}

func intStr(o obj, path ...string) int {
	n, _ := mint(o, path...)
	return n
}

var printers = map[string]printer{
	"Pod": {[]column{nameCol, {"Ready", "string", "", 0}, {"Status", "string", "", 0}, {"Restarts", "integer", "", 0}, ageCol,
		{"IP", "string", "", 1}, {"Node", "string", "", 1}, {"Nominated Node", "string", "", 1}, {"Readiness Gates", "string", "", 1}}, podRow},
	"Deployment": {[]column{nameCol, {"Ready", "string", "", 0}, {"Up-to-date", "integer", "", 0}, {"Available", "integer", "", 0}, ageCol,
		{"Containers", "string", "", 1}, {"Images", "string", "", 1}, {"Selector", "string", "", 1}},
		func(o obj) []interface{} {
			c, i := containerSummary(o)
			return []interface{}{name(o), fmt.Sprintf("%d/%d", intStr(o, "status", "readyReplicas"), intStr(o, "spec", "replicas")),
				intStr(o, "status", "updatedReplicas"), intStr(o, "status", "availableReplicas"), age(o), c, i, selectorString(o)}
		}},
	"ReplicaSet": {[]column{nameCol, {"Desired", "integer", "", 0}, {"Current", "integer", "", 0}, {"Ready", "integer", "", 0}, ageCol,
		{"Containers", "string", "", 1}, {"Images", "string", "", 1}, {"Selector", "string", "", 1}},
		func(o obj) []interface{} {
			c, i := containerSummary(o)
			return []interface{}{name(o), intStr(o, "spec", "replicas"), intStr(o, "status", "replicas"),
				intStr(o, "status", "readyReplicas"), age(o), c, i, selectorString(o)}
		}},
	"StatefulSet": {[]column{nameCol, {"Ready", "string", "", 0}, ageCol, {"Containers", "string", "", 1}, {"Images", "string", "", 1}},
		func(o obj) []interface{} {
			c, i := containerSummary(o)
			return []interface{}{name(o), fmt.Sprintf("%d/%d", intStr(o, "status", "readyReplicas"), intStr(o, "spec", "replicas")), age(o), c, i}
		}},
	"Service": {[]column{nameCol, {"Type", "string", "", 0}, {"Cluster-IP", "string", "", 0}, {"External-IP", "string", "", 0},
		{"Port(s)", "string", "", 0}, ageCol, {"Selector", "string", "", 1}},
		func(o obj) []interface{} {
			sel := map[string]string{}
			for k, v := range mmap(o, "spec", "selector") {
				sel[k] = fmt.Sprint(v)
			}
			return []interface{}{name(o), mstr(o, "spec", "type"), mstr(o, "spec", "clusterIP"), "<none>", servicePorts(o), age(o), orNone(joinLabels(sel))}
		}},
	"Endpoints": {[]column{nameCol, {"Endpoints", "string", "", 0}, ageCol},
		func(o obj) []interface{} { return []interface{}{name(o), endpointsList(o), age(o)} }},
	"NetworkPolicy": {[]column{nameCol, {"Pod-Selector", "string", "", 0}, ageCol},
		func(o obj) []interface{} {
			m := map[string]string{}
			for k, v := range mmap(o, "spec", "podSelector", "matchLabels") {
				m[k] = fmt.Sprint(v)
			}
			return []interface{}{name(o), orNone(joinLabels(m)), age(o)}
		}},
	"Event": {[]column{{"Last Seen", "string", "", 0}, {"Type", "string", "", 0}, {"Reason", "string", "", 0}, {"Object", "string", "", 0}, {"Message", "string", "", 0}},
		func(o obj) []interface{} {
			ref := strings.ToLower(mstr(o, "involvedObject", "kind")) + "/" + mstr(o, "involvedObject", "name")
			return []interface{}{humanAge(mstr(o, "lastTimestamp")), mstr(o, "type"), mstr(o, "reason"), ref, mstr(o, "message")}
		}},
	"Node": {[]column{nameCol, {"Status", "string", "", 0}, {"Roles", "string", "", 0}, ageCol, {"Version", "string", "", 0},
		{"Internal-IP", "string", "", 1}, {"OS-Image", "string", "", 1}},
		func(o obj) []interface{} {
			ip := ""
			for _, a := range mlist(o, "status", "addresses") {
				if mstr(a, "type") == "InternalIP" {
					ip = mstr(a, "address")
				}
			}
			return []interface{}{name(o), nodeStatus(o), nodeRoles(o), age(o), mstr(o, "status", "nodeInfo", "kubeletVersion"),
				ip, mstr(o, "status", "nodeInfo", "osImage")}
		}},
	"Namespace": {[]column{nameCol, {"Status", "string", "", 0}, ageCol},
		func(o obj) []interface{} { return []interface{}{name(o), mstr(o, "status", "phase"), age(o)} }},
	"ConfigMap": {[]column{nameCol, {"Data", "integer", "", 0}, ageCol},
		func(o obj) []interface{} {
			return []interface{}{name(o), len(mmap(o, "data")) + len(mmap(o, "binaryData")), age(o)}
		}},
	"Secret": {[]column{nameCol, {"Type", "string", "", 0}, {"Data", "integer", "", 0}, ageCol},
		func(o obj) []interface{} {
			return []interface{}{name(o), mstr(o, "type"), len(mmap(o, "data")), age(o)}
		}},
	"ServiceAccount": {[]column{nameCol, {"Secrets", "integer", "", 0}, ageCol},
		func(o obj) []interface{} { return []interface{}{name(o), len(mlist(o, "secrets")), age(o)} }},
	"CronJob": {[]column{nameCol, {"Schedule", "string", "", 0}, {"Timezone", "string", "", 0}, {"Suspend", "boolean", "", 0},
		{"Active", "integer", "", 0}, {"Last Schedule", "string", "", 0}, ageCol,
		{"Containers", "string", "", 1}, {"Images", "string", "", 1}, {"Selector", "string", "", 1}}, cronJobRow},
	"Role":               {[]column{nameCol, {"Created At", "date", "", 0}}, createdAtRow},
	"ClusterRole":        {[]column{nameCol, {"Created At", "date", "", 0}}, createdAtRow},
	"RoleBinding":        {bindingCols, bindingRow},
	"ClusterRoleBinding": {bindingCols, bindingRow},
}

func cronJobRow(o obj) []interface{} {
	suspend := "<unset>"
	if b, ok := mget(o, "spec", "suspend").(bool); ok {
		suspend = map[bool]string{true: "True", false: "False"}[b]
	}
	last := "<none>"
	if ts := mstr(o, "status", "lastScheduleTime"); ts != "" {
		last = humanAge(ts)
	}
	job := obj{"spec": mmap(o, "spec", "jobTemplate", "spec")}
	c, i := containerSummary(job)
	return []interface{}{name(o), mstr(o, "spec", "schedule"), orNone(mstr(o, "spec", "timeZone")), suspend,
		len(mlist(o, "status", "active")), last, age(o), c, i, selectorString(job)}
}

func createdAtRow(o obj) []interface{} {
	return []interface{}{name(o), mstr(o, "metadata", "creationTimestamp")}
}

var bindingCols = []column{nameCol, {"Role", "string", "", 0}, ageCol,
	{"Users", "string", "", 1}, {"Groups", "string", "", 1}, {"ServiceAccounts", "string", "", 1}}

// bindingRow: ROLE is Kind/name; subjects by kind, service accounts as ns/name.
func bindingRow(o obj) []interface{} {
	by := map[string][]string{}
	for _, s := range mlist(o, "subjects") {
		n := mstr(s, "name")
		if mstr(s, "kind") == "ServiceAccount" {
			n = mstr(s, "namespace") + "/" + n
		}
		by[mstr(s, "kind")] = append(by[mstr(s, "kind")], n)
	}
	return []interface{}{name(o), mstr(o, "roleRef", "kind") + "/" + mstr(o, "roleRef", "name"), age(o),
		strings.Join(by["User"], ", "), strings.Join(by["Group"], ", "), strings.Join(by["ServiceAccount"], ", ")}
}

// toTable renders objects of one kind; includeObject is None, Metadata
// (the default) or Object, as the query parameter of the same name.
func toTable(kind string, items []obj, rv, includeObject string) obj {
	p, ok := printers[kind]
	if !ok {
		p = printer{[]column{nameCol, ageCol}, func(o obj) []interface{} { return []interface{}{name(o), age(o)} }}
	}
	var cols []interface{}
	for _, c := range p.cols {
		cols = append(cols, obj{"name": c.name, "type": c.typ, "format": c.format, "description": c.name, "priority": c.priority})
	}
	rows := []interface{}{}
	for _, o := range items {
		row := obj{"cells": p.row(o)}
		switch includeObject {
		case "None":
		case "Object":
			row["object"] = o
		default:
			row["object"] = obj{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
		}
		rows = append(rows, row)
	}
	return obj{"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": obj{"resourceVersion": rv},
		"columnDefinitions": cols, "rows": rows}
}
