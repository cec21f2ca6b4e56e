// resources.go: the resource types the stand-in serves (core, apps, batch,
// networking, RBAC, metrics) and the discovery documents (/version, /api,
// /apis, /api/v1, /apis/GROUP/VERSION) built from them, in the legacy
// (non-aggregated) form a 1.25 server returns: namespaced or cluster-scoped,
// verbs, shortNames, categories, subresources.
package main

import "strings"

type subres struct {
	name, group, version, kind string
	verbs                      []string
}

type resDef struct {
	group, version, plural, singular, kind string
	namespaced                             bool
	short, verbs, categories               []string
	subs                                   []subres
}

const rbacGroup = "rbac.authorization.k8s.io"

var rwVerbs = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
var roVerbs = []string{"get", "list"}

var resources = []resDef{
	{"", "v1", "namespaces", "namespace", "Namespace", false, []string{"ns"}, rwVerbs, nil,
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}}}},
	{"", "v1", "nodes", "node", "Node", false, []string{"no"}, rwVerbs, nil,
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}},
			{name: "proxy", kind: "NodeProxyOptions", verbs: []string{"get"}}}},
	{"", "v1", "pods", "pod", "Pod", true, []string{"po"}, rwVerbs, []string{"all"},
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}},
			{name: "exec", kind: "PodExecOptions", verbs: []string{"create", "get"}},
			{name: "log", kind: "Pod", verbs: []string{"get"}},
			{name: "proxy", kind: "PodProxyOptions", verbs: []string{"create", "delete", "get", "patch", "update"}}}},
	{"", "v1", "services", "service", "Service", true, []string{"svc"}, rwVerbs, []string{"all"},
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}},
			{name: "proxy", kind: "ServiceProxyOptions", verbs: []string{"create", "delete", "get", "patch", "update"}}}},
	{"", "v1", "endpoints", "endpoints", "Endpoints", true, []string{"ep"}, rwVerbs, nil, nil},
	{"", "v1", "events", "event", "Event", true, []string{"ev"}, rwVerbs, nil, nil},
	{"", "v1", "configmaps", "configmap", "ConfigMap", true, []string{"cm"}, rwVerbs, nil, nil},
	{"", "v1", "secrets", "secret", "Secret", true, nil, rwVerbs, nil, nil},
	{"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, []string{"sa"}, rwVerbs, nil, nil},
	{"apps", "v1", "deployments", "deployment", "Deployment", true, []string{"deploy"}, rwVerbs, []string{"all"},
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}},
			{name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: []string{"get", "patch", "update"}}}},
	{"apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, []string{"rs"}, rwVerbs, []string{"all"},
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}},
			{name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: []string{"get", "patch", "update"}}}},
	{"apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, []string{"sts"}, rwVerbs, []string{"all"},
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}},
			{name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: []string{"get", "patch", "update"}}}},
	{"batch", "v1", "jobs", "job", "Job", true, nil, rwVerbs, []string{"all"},
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}}}},
	{"batch", "v1", "cronjobs", "cronjob", "CronJob", true, []string{"cj"}, rwVerbs, []string{"all"},
		[]subres{{name: "status", verbs: []string{"get", "patch", "update"}}}},
	{"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, []string{"netpol"}, rwVerbs, nil, nil},
	{rbacGroup, "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, nil, rwVerbs, nil, nil},
	{rbacGroup, "v1", "clusterroles", "clusterrole", "ClusterRole", false, nil, rwVerbs, nil, nil},
	{rbacGroup, "v1", "rolebindings", "rolebinding", "RoleBinding", true, nil, rwVerbs, nil, nil},
	{rbacGroup, "v1", "roles", "role", "Role", true, nil, rwVerbs, nil, nil},
	{"metrics.k8s.io", "v1beta1", "pods", "", "PodMetrics", true, nil, roVerbs, nil, nil},
	{"metrics.k8s.io", "v1beta1", "nodes", "", "NodeMetrics", false, nil, roVerbs, nil, nil},
}

func groupVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

func (r *resDef) apiVersion() string { return groupVersion(r.group, r.version) }

// findRes looks a resource up by group/version and plural name.
func findRes(group, version, plural string) *resDef {
	for i := range resources {
		r := &resources[i]
		if r.group == group && r.version == version && r.plural == plural {
			return r
		}
	}
	return nil
}

// resByKind finds the served resource of a stored kind (metrics excluded).
func resByKind(kind string) *resDef {
	for i := range resources {
		if resources[i].kind == kind && resources[i].group != "metrics.k8s.io" {
			return &resources[i]
		}
	}
	return nil
}

func groupNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range resources {
		if r.group != "" && !seen[r.group] {
			seen[r.group] = true
			out = append(out, r.group)
		}
	}
	return out
}

func versionDoc() obj {
	return obj{"major": "1", "minor": "31", "gitVersion": "v1.31.0-lab", "gitCommit": "0000000000000000000000000000000000000000",
		"gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.19", "compiler": "gc", "platform": "linux/amd64"}
}

func apiVersionsDoc(addr string) obj {
	return obj{"kind": "APIVersions", "versions": []interface{}{"v1"},
		"serverAddressByClientCIDRs": []interface{}{obj{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}}}
}

func groupDoc(g string) obj {
	var version string
	for _, r := range resources {
		if r.group == g {
			version = r.version
			break
		}
	}
	gv := obj{"groupVersion": g + "/" + version, "version": version}
	return obj{"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": []interface{}{gv}, "preferredVersion": gv}
}

func groupListDoc() obj {
	var groups []interface{}
	for _, g := range groupNames() {
		d := groupDoc(g)
		delete(d, "kind")
		delete(d, "apiVersion")
		groups = append(groups, d)
	}
	return obj{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
}

func resourceListDoc(group, version string) obj {
	var list []interface{}
	for _, r := range resources {
		if r.group != group || r.version != version {
			continue
		}
		e := obj{"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
			"verbs": r.verbs}
		if r.short != nil {
			e["shortNames"] = r.short
		}
		if r.categories != nil {
			e["categories"] = r.categories
		}
		list = append(list, e)
		for _, s := range r.subs {
			se := obj{"name": r.plural + "/" + s.name, "singularName": "", "namespaced": r.namespaced, "verbs": s.verbs}
			se["kind"] = s.kind
			if s.kind == "" {
				se["kind"] = r.kind
			}
			if s.group != "" {
				se["group"], se["version"] = s.group, s.version
			}
			list = append(list, se)
		}
	}
	if list == nil {
		return nil
	}
	return obj{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": groupVersion(group, version), "resources": list}
}

// isTableAccept reports whether the client asked for a meta.k8s.io Table.
func isTableAccept(accept string) bool {
	return strings.Contains(accept, "as=Table")
}
