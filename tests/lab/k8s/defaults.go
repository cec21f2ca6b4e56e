// defaults.go: what decoding an incoming object into its Go type and the v1
// defaulting functions do to it before validation, on every write: a
// Secret's data (and a ConfigMap's binaryData) must be base64 (else 400, as
// the decoder answers), stringData is merged into data and dropped, type
// defaults to Opaque; a CronJob gets its policy and history defaults; RBAC
// references get their API group; a Namespace is Active with its name label.
package main

import (
	"encoding/base64"
	"fmt"
)

// admit decodes and defaults o (of resource res) in place.
func admit(res *resDef, o obj) *apiErr {
	switch res.kind {
	case "Secret":
		if e := decodeBytes(res, o, "data"); e != nil {
			return e
		}
		if e := mergeStringData(res, o); e != nil {
			return e
		}
		defaultValue(o, "Opaque", "type")
	case "ConfigMap":
		return decodeBytes(res, o, "binaryData")
	case "CronJob":
		defaultValue(o, "Allow", "spec", "concurrencyPolicy")
		defaultValue(o, false, "spec", "suspend")
		defaultValue(o, float64(3), "spec", "successfulJobsHistoryLimit")
		defaultValue(o, float64(1), "spec", "failedJobsHistoryLimit")
	case "RoleBinding", "ClusterRoleBinding":
		defaultValue(o, rbacGroup, "roleRef", "apiGroup")
		for _, s := range mlist(o, "subjects") {
			if m, ok := s.(obj); ok && (m["kind"] == "User" || m["kind"] == "Group") && mstr(m, "apiGroup") == "" {
				m["apiGroup"] = rbacGroup
			}
		}
	case "Namespace":
		ensure(o, "metadata", "labels")["kubernetes.io/metadata.name"] = name(o)
		defaultValue(o, []interface{}{"kubernetes"}, "spec", "finalizers")
		defaultValue(o, "Active", "status", "phase")
	}
	return nil
}

// defaultValue sets path to v when it is absent.
func defaultValue(o obj, v interface{}, path ...string) {
	parent := ensure(o, path[:len(path)-1]...)
	if _, ok := parent[path[len(path)-1]]; !ok {
		parent[path[len(path)-1]] = v
	}
}

func decodeErr(res *resDef, err string) *apiErr {
	return badRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %s", res.kind, res.version, res.kind, err))
}

// decodeBytes checks that every value of a []byte map is a base64 string.
func decodeBytes(res *resDef, o obj, field string) *apiErr {
	v, ok := o[field]
	if !ok {
		return nil
	}
	m, ok := v.(obj)
	if !ok {
		return decodeErr(res, fmt.Sprintf("json: cannot unmarshal %s into Go struct field %s.%s of type map[string][]uint8", jsonType(v), res.kind, field))
	}
	for _, k := range sortedNames(m) {
		s, ok := m[k].(string)
		if !ok {
			return decodeErr(res, fmt.Sprintf("json: cannot unmarshal %s into Go struct field %s.%s of type []uint8", jsonType(m[k]), res.kind, field))
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return decodeErr(res, err.Error())
		}
	}
	return nil
}

// mergeStringData moves stringData into data (stringData wins), as the
// v1 conversion does; the server never returns stringData.
func mergeStringData(res *resDef, o obj) *apiErr {
	v, ok := o["stringData"]
	if !ok {
		return nil
	}
	m, ok := v.(obj)
	if !ok {
		return decodeErr(res, fmt.Sprintf("json: cannot unmarshal %s into Go struct field Secret.stringData of type map[string]string", jsonType(v)))
	}
	data := ensure(o, "data")
	for k, x := range m {
		s, ok := x.(string)
		if !ok {
			return decodeErr(res, fmt.Sprintf("json: cannot unmarshal %s into Go struct field Secret.stringData of type string", jsonType(x)))
		}
		data[k] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	delete(o, "stringData")
	return nil
}

func jsonType(v interface{}) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []interface{}:
		return "array"
	case obj:
		return "object"
	}
	return "null"
}
