// openapi.go: a minimal /openapi/v3: the root index and, per group/version,
// the PATCH operations with their fieldValidation parameter and GVK
// extension. That is what kubectl's field-validation verifier looks for; with
// it kubectl leaves validation to the server (fieldValidation=Strict)
// instead of downloading schemas, so `kubectl create -f` and `apply -f`
// work. No schemas are served; /openapi/v2 is 404 as on a server without it.
package main

import (
	"net/http"
	"strings"
)

func openapiGVPath(group, version string) string {
	if group == "" {
		return "api/" + version
	}
	return "apis/" + group + "/" + version
}

func openapiRoot() obj {
	paths := obj{}
	for _, r := range resources {
		p := openapiGVPath(r.group, r.version)
		paths[p] = obj{"serverRelativeURL": "/openapi/v3/" + p + "?hash=lab"}
	}
	return obj{"paths": paths}
}

func openapiGV(gvPath string) obj {
	paths := obj{}
	for _, r := range resources {
		if openapiGVPath(r.group, r.version) != gvPath || r.group == "metrics.k8s.io" {
			continue
		}
		gvk := obj{"group": r.group, "version": r.version, "kind": r.kind}
		params := []interface{}{}
		for _, q := range []string{"dryRun", "fieldManager", "fieldValidation", "force"} {
			params = append(params, obj{"name": q, "in": "query", "schema": obj{"type": "string", "uniqueItems": true}})
		}
		item := "/" + gvPath + "/" + r.plural + "/{name}"
		if r.namespaced {
			item = "/" + gvPath + "/namespaces/{namespace}/" + r.plural + "/{name}"
		}
		op := func(verb string) obj {
			return obj{"operationId": verb + r.kind, "x-kubernetes-action": verb, "x-kubernetes-group-version-kind": gvk,
				"parameters": params}
		}
		paths[item] = obj{"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}
		paths[strings.TrimSuffix(item, "/{name}")] = obj{"get": op("list"), "post": op("post")}
	}
	return obj{"openapi": "3.0.0", "info": obj{"title": "Kubernetes", "version": "v1.31.0-lab"}, "paths": paths,
		"components": obj{"schemas": obj{}}}
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	p := strings.Trim(r.URL.Path, "/")
	switch {
	case p == "openapi/v3":
		writeJSON(w, 200, openapiRoot())
		return
	case strings.HasPrefix(p, "openapi/v3/"):
		if doc := openapiGV(strings.TrimPrefix(p, "openapi/v3/")); len(doc["paths"].(obj)) > 0 {
			writeJSON(w, 200, doc)
			return
		}
	}
	writeErr(w, &apiErr{404, "NotFound", "the server could not find the requested resource", nil})
}
