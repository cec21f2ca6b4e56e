// selectors.go: labelSelector and fieldSelector query parameters, in the
// syntax of k8s.io/apimachinery (=, ==, !=, in, notin, key, !key).
package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

func mustJSON(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func matchLabelsMap(sel obj, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// splitTerms splits on commas outside parentheses.
func splitTerms(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

type term func(get func(string) (string, bool)) bool

func parseTerm(t string) (term, error) {
	if i := strings.Index(t, "!="); i > 0 {
		k, v := strings.TrimSpace(t[:i]), strings.TrimSpace(t[i+2:])
		return func(get func(string) (string, bool)) bool { got, _ := get(k); return got != v }, nil
	}
	if i := strings.Index(t, "="); i > 0 {
		k, v := strings.TrimSpace(t[:i]), strings.TrimSpace(strings.TrimPrefix(t[i+1:], "="))
		return func(get func(string) (string, bool)) bool { got, ok := get(k); return ok && got == v }, nil
	}
	for _, op := range []string{" notin ", " in "} {
		if i := strings.Index(t, op); i > 0 {
			k, set := strings.TrimSpace(t[:i]), strings.TrimSpace(t[i+len(op):])
			if !strings.HasPrefix(set, "(") || !strings.HasSuffix(set, ")") {
				return nil, fmt.Errorf("unable to parse requirement: %q", t)
			}
			vals := map[string]bool{}
			for _, v := range strings.Split(set[1:len(set)-1], ",") {
				vals[strings.TrimSpace(v)] = true
			}
			neg := op == " notin "
			return func(get func(string) (string, bool)) bool {
				got, ok := get(k)
				return (ok && vals[got]) != neg
			}, nil
		}
	}
	if strings.HasPrefix(t, "!") {
		k := strings.TrimSpace(t[1:])
		return func(get func(string) (string, bool)) bool { _, ok := get(k); return !ok }, nil
	}
	if t == "" || strings.ContainsAny(t, " ()") {
		return nil, fmt.Errorf("unable to parse requirement: %q", t)
	}
	return func(get func(string) (string, bool)) bool { _, ok := get(t); return ok }, nil
}

func parseSelector(s string) ([]term, error) {
	var terms []term
	for _, t := range splitTerms(s) {
		f, err := parseTerm(t)
		if err != nil {
			return nil, err
		}
		terms = append(terms, f)
	}
	return terms, nil
}

// fieldValue reads a dotted field path such as status.phase or metadata.name.
func fieldValue(o obj, path string) (string, bool) {
	v := mget(o, strings.Split(path, ".")...)
	if v == nil {
		return "", false
	}
	return mstr(o, strings.Split(path, ".")...), true
}

// buildMatcher combines labelSelector and fieldSelector into one predicate.
func buildMatcher(labelSel, fieldSel string) (func(obj) bool, error) {
	lt, err := parseSelector(labelSel)
	if err != nil {
		return nil, err
	}
	ft, err := parseSelector(fieldSel)
	if err != nil {
		return nil, err
	}
	return func(o obj) bool {
		labels := labelsOf(o)
		for _, t := range lt {
			if !t(func(k string) (string, bool) { v, ok := labels[k]; return v, ok }) {
				return false
			}
		}
		for _, t := range ft {
			if !t(func(k string) (string, bool) { v, ok := fieldValue(o, k); return v, ok || k != "" }) {
				return false
			}
		}
		return true
	}, nil
}
