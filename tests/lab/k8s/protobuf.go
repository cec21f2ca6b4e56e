// protobuf.go: request bodies in application/vnd.kubernetes.protobuf, which
// some kubectl commands send (`kubectl create rolebinding` does): the "k8s\0"
// envelope (runtime.Unknown: typeMeta, raw), the protobuf wire format, and
// the field numbers of the kinds that arrive that way (the RBAC kinds, from
// their generated.proto), turned into the JSON object the rest of the
// stand-in handles. Answers stay JSON (such clients accept it too). A body
// of another kind answers 415, as a server that cannot decode it would.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
)

const protobufType = "application/vnd.kubernetes.protobuf"

// pbField is one message field: its JSON name, whether it repeats, and the
// message it holds ("" for a string; "map" for map<string,string>).
type pbField struct {
	name     string
	repeated bool
	msg      string
}

var pbMessages = map[string]map[uint64]pbField{
	"ObjectMeta": {1: {"name", false, ""}, 2: {"generateName", false, ""}, 3: {"namespace", false, ""},
		11: {"labels", false, "map"}, 12: {"annotations", false, "map"}, 14: {"finalizers", true, ""}},
	"Role":               {1: {"metadata", false, "ObjectMeta"}, 2: {"rules", true, "PolicyRule"}},
	"ClusterRole":        {1: {"metadata", false, "ObjectMeta"}, 2: {"rules", true, "PolicyRule"}},
	"RoleBinding":        {1: {"metadata", false, "ObjectMeta"}, 2: {"subjects", true, "Subject"}, 3: {"roleRef", false, "RoleRef"}},
	"ClusterRoleBinding": {1: {"metadata", false, "ObjectMeta"}, 2: {"subjects", true, "Subject"}, 3: {"roleRef", false, "RoleRef"}},
	"PolicyRule": {1: {"verbs", true, ""}, 2: {"apiGroups", true, ""}, 3: {"resources", true, ""},
		4: {"resourceNames", true, ""}, 5: {"nonResourceURLs", true, ""}},
	"Subject":  {1: {"kind", false, ""}, 2: {"apiGroup", false, ""}, 3: {"name", false, ""}, 4: {"namespace", false, ""}},
	"RoleRef":  {1: {"apiGroup", false, ""}, 2: {"kind", false, ""}, 3: {"name", false, ""}},
	"Unknown":  {1: {"typeMeta", false, "TypeMeta"}, 2: {"raw", false, "bytes"}},
	"TypeMeta": {1: {"apiVersion", false, ""}, 2: {"kind", false, ""}},
	"map":      {1: {"key", false, ""}, 2: {"value", false, ""}},
}

// pbKinds are the objects decoded from protobuf (the rest are their parts).
var pbKinds = map[string]bool{"Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true}

// pbRecords splits a message into (field number, bytes) records; only
// length-delimited values are kept (the kinds above hold no numbers the
// stand-in needs), varints and fixed values are skipped.
func pbRecords(b []byte) ([]uint64, [][]byte, error) {
	var nums []uint64
	var vals [][]byte
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, nil, fmt.Errorf("bad protobuf tag")
		}
		b = b[n:]
		switch tag & 7 {
		case 0:
			if _, n = binary.Uvarint(b); n <= 0 {
				return nil, nil, fmt.Errorf("bad protobuf varint")
			}
			b = b[n:]
		case 1, 5:
			size := map[uint64]int{1: 8, 5: 4}[tag&7]
			if len(b) < size {
				return nil, nil, fmt.Errorf("truncated protobuf value")
			}
			b = b[size:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, nil, fmt.Errorf("truncated protobuf field")
			}
			nums, vals = append(nums, tag>>3), append(vals, b[n:n+int(l)])
			b = b[n+int(l):]
		default:
			return nil, nil, fmt.Errorf("unsupported protobuf wire type %d", tag&7)
		}
	}
	return nums, vals, nil
}

// pbDecode turns one message of a known type into a JSON-shaped object;
// empty strings are left out, as JSON's omitempty does.
func pbDecode(msg string, b []byte) (obj, error) {
	nums, vals, err := pbRecords(b)
	if err != nil {
		return nil, err
	}
	out := obj{}
	for i, num := range nums {
		f, ok := pbMessages[msg][num]
		if !ok {
			continue
		}
		var v interface{} = string(vals[i])
		switch f.msg {
		case "":
		case "bytes":
			v = vals[i]
		case "map":
			kv, err := pbDecode("map", vals[i])
			if err != nil {
				return nil, err
			}
			ensure(out, f.name)[mstr(kv, "key")] = mstr(kv, "value")
			continue
		default:
			if v, err = pbDecode(f.msg, vals[i]); err != nil {
				return nil, err
			}
		}
		if f.repeated {
			l, _ := out[f.name].([]interface{})
			out[f.name] = append(l, v)
		} else if s, isStr := v.(string); !isStr || s != "" {
			out[f.name] = v
		}
	}
	return out, nil
}

// protobufToJSON decodes an enveloped object of a kind pbMessages knows.
func protobufToJSON(body []byte) ([]byte, *apiErr) {
	if !strings.HasPrefix(string(body), "k8s\x00") {
		return nil, badRequest("protobuf body without the k8s envelope")
	}
	env, err := pbDecode("Unknown", body[4:])
	if err != nil {
		return nil, badRequest(err.Error())
	}
	kind := mstr(env, "typeMeta", "kind")
	raw, _ := env["raw"].([]byte)
	if !pbKinds[kind] {
		return nil, &apiErr{415, "UnsupportedMediaType", fmt.Sprintf("the stand-in decodes protobuf bodies of RBAC kinds only, not %q; send application/json", kind), nil}
	}
	o, err := pbDecode(kind, raw)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	o["apiVersion"], o["kind"] = mstr(env, "typeMeta", "apiVersion"), kind
	b, _ := json.Marshal(o)
	return b, nil
}

// requestJSON is the body of a create or update as JSON, whatever the
// Content-Type it came in.
func requestJSON(ctype string, body []byte) ([]byte, *apiErr) {
	if strings.HasPrefix(strings.TrimSpace(ctype), protobufType) {
		return protobufToJSON(body)
	}
	return body, nil
}
