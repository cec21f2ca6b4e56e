// util.go: helpers over unstructured JSON objects (map[string]interface{}),
// the form every stored object takes so that patches apply generically.
package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

type obj = map[string]interface{}

func deepCopy(v interface{}) interface{} {
	b, _ := json.Marshal(v)
	var out interface{}
	_ = json.Unmarshal(b, &out)
	return out
}

func copyObj(o obj) obj {
	if o == nil {
		return nil
	}
	return deepCopy(o).(obj)
}

func jsonEqual(a, b interface{}) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// mget walks nested maps; nil when any step is missing.
func mget(o interface{}, path ...string) interface{} {
	cur := o
	for _, p := range path {
		m, ok := cur.(obj)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func mmap(o interface{}, path ...string) obj {
	m, _ := mget(o, path...).(obj)
	return m
}

func mstr(o interface{}, path ...string) string {
	switch v := mget(o, path...).(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func mlist(o interface{}, path ...string) []interface{} {
	l, _ := mget(o, path...).([]interface{})
	return l
}

func mint(o interface{}, path ...string) (int, bool) {
	switch v := mget(o, path...).(type) {
	case float64:
		return int(v), v == float64(int(v))
	case int:
		return v, true
	}
	return 0, false
}

// ensure returns the map at path, creating maps along the way.
func ensure(o obj, path ...string) obj {
	cur := o
	for _, p := range path {
		next, ok := cur[p].(obj)
		if !ok {
			next = obj{}
			cur[p] = next
		}
		cur = next
	}
	return cur
}

func meta(o obj) obj { return ensure(o, "metadata") }

func name(o obj) string { return mstr(o, "metadata", "name") }

func labelsOf(o obj) map[string]string {
	out := map[string]string{}
	for k, v := range mmap(o, "metadata", "labels") {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func sortedKeys(m map[string]obj) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// humanAge follows the shape of k8s.io/apimachinery duration.HumanDuration.
func humanAge(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "<unknown>"
	}
	d := time.Since(t)
	s := int(d.Seconds())
	switch {
	case s < 0:
		return "0s"
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case s < 600:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", s/60)
		}
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 3*3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 8*3600:
		return fmt.Sprintf("%dh%dm", s/3600, (s%3600)/60)
	case s < 48*3600:
		return fmt.Sprintf("%dh", s/3600)
	case s < 8*86400:
		return fmt.Sprintf("%dd%dh", s/86400, (s%86400)/3600)
	}
	return fmt.Sprintf("%dd", s/86400)
}

func joinLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// pruneNulls drops null members of maps at any depth, as decoding into the
// typed API objects does (kubectl sends "creationTimestamp": null).
func pruneNulls(v interface{}) {
	switch t := v.(type) {
	case obj:
		for k, x := range t {
			if x == nil {
				delete(t, k)
			} else {
				pruneNulls(x)
			}
		}
	case []interface{}:
		for _, x := range t {
			pruneNulls(x)
		}
	}
}

// timeKeys are the fields whose values come from a clock.
var timeKeys = map[string]bool{"creationTimestamp": true, "deletionTimestamp": true, "startTime": true,
	"startedAt": true, "finishedAt": true, "lastTransitionTime": true, "lastUpdateTime": true,
	"firstTimestamp": true, "lastTimestamp": true, "eventTime": true, restartedAtKey: true}

// normalizeTimes replaces every clock value with "(time)", so that two runs
// of the same requests compare equal (/__lab/state?normalize=1).
func normalizeTimes(v interface{}) {
	switch t := v.(type) {
	case obj:
		for k, x := range t {
			if _, isStr := x.(string); isStr && timeKeys[k] {
				t[k] = "(time)"
			} else {
				normalizeTimes(x)
			}
		}
	case []interface{}:
		for _, x := range t {
			normalizeTimes(x)
		}
	}
}
