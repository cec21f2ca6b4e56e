// validate_data.go: Secrets and ConfigMaps: keys are config keys, the data
// is at most 1 MiB, a Secret of a known type has its required keys, a
// ConfigMap key is in data or binaryData but not both, and once `immutable`
// is set neither the data nor the flag may change (nor a Secret's type).
// The values here are already decoded and checked as base64 (defaults.go).
package main

import (
	"encoding/base64"
	"fmt"
	"regexp"
)

const maxDataSize = 1 << 20

var configKeyRe = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

const configKeyMsg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

func configKeyProblems(k string) []string {
	var out []string
	if len(k) > 253 {
		out = append(out, "must be no more than 253 characters")
	}
	if !configKeyRe.MatchString(k) {
		out = append(out, configKeyMsg)
	}
	switch {
	case k == ".":
		out = append(out, "must not be '.'")
	case k == "..":
		out = append(out, "must not be '..'")
	case len(k) > 2 && k[:2] == "..":
		out = append(out, "must not start with '..'")
	}
	return out
}

// dataKeys checks the keys of one map field and returns the bytes it holds
// (base64 values decoded when b64).
func dataKeys(o obj, field string, b64 bool) ([]fieldErr, int) {
	var errs []fieldErr
	size := 0
	m := mmap(o, field)
	for _, k := range sortedNames(m) {
		for _, msg := range configKeyProblems(k) {
			errs = append(errs, invalidValue(fmt.Sprintf("%s[%s]", field, k), k, msg))
		}
		v := mstr(m, k)
		if b64 {
			raw, _ := base64.StdEncoding.DecodeString(v)
			size += len(raw)
		} else {
			size += len(v)
		}
	}
	return errs, size
}

// secretTypeKeys are the keys a Secret of a built-in type must hold.
var secretTypeKeys = map[string][]string{
	"kubernetes.io/tls":              {"tls.crt", "tls.key"},
	"kubernetes.io/ssh-auth":         {"ssh-privatekey"},
	"kubernetes.io/dockerconfigjson": {".dockerconfigjson"},
	"kubernetes.io/dockercfg":        {".dockercfg"},
}

func validateSecret(o obj) []fieldErr {
	errs, size := dataKeys(o, "data", true)
	if size > maxDataSize {
		errs = append(errs, tooLong("data", maxDataSize))
	}
	for _, k := range secretTypeKeys[mstr(o, "type")] {
		if _, ok := mmap(o, "data")[k]; !ok {
			errs = append(errs, required(fmt.Sprintf("data[%s]", k), ""))
		}
	}
	if mstr(o, "type") == "kubernetes.io/service-account-token" && mstr(o, "metadata", "annotations", "kubernetes.io/service-account.name") == "" {
		errs = append(errs, required("metadata.annotations[kubernetes.io/service-account.name]", ""))
	}
	return errs
}

func validateConfigMap(o obj) []fieldErr {
	errs, size := dataKeys(o, "data", false)
	binErrs, binSize := dataKeys(o, "binaryData", true)
	errs = append(errs, binErrs...)
	for _, k := range sortedNames(mmap(o, "binaryData")) {
		if _, dup := mmap(o, "data")[k]; dup {
			errs = append(errs, invalidValue(fmt.Sprintf("data[%s]", k), k, "duplicate of key present in binaryData"))
		}
	}
	if size+binSize > maxDataSize {
		errs = append(errs, tooLong("[]", maxDataSize))
	}
	return errs
}

// immutableData: the update rules of Secrets and ConfigMaps.
func immutableData(cur, next obj) []fieldErr {
	var errs []fieldErr
	if mstr(cur, "kind") == "Secret" && mstr(cur, "type") != mstr(next, "type") {
		errs = append(errs, invalidValue("type", mstr(next, "type"), "field is immutable"))
	}
	if b, _ := mget(cur, "immutable").(bool); !b {
		return errs
	}
	const why = "field is immutable when `immutable` is set"
	if nb, _ := mget(next, "immutable").(bool); !nb {
		errs = append(errs, forbidden("immutable", why))
	}
	for _, f := range []string{"data", "binaryData", "stringData"} {
		if !jsonEqual(mget(cur, f), mget(next, f)) {
			errs = append(errs, forbidden(f, why))
		}
	}
	return errs
}
