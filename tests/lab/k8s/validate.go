// validate.go: the part of the API server's validation the tests can observe,
// per kind: object names (RFC 1123 subdomain or label, DNS-1035 for
// Services, a path segment for RBAC), pod specs (containers, resources,
// env, volumes and the mounts that name them), workloads' replicas and
// selectors, Jobs' and CronJobs' specs (schedule, restartPolicy, limits).
// RBAC and the data kinds are in validate_rbac.go and validate_data.go. All
// errors of an object are reported at once, as a 422 (fielderr.go).
// No schema is kept: an unknown field is stored, not refused.
package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

var quantityRe = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$`)
var dns1123LabelRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
var dns1123SubdomainRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
var dns1035LabelRe = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

const dns1123LabelMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
const dns1123SubdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
const dns1035LabelMsg = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

// nameProblems is why a name is not of its form ("" for a valid one).
func nameProblems(n, form string) []string {
	var out []string
	switch form {
	case "label":
		if len(n) > 63 {
			out = append(out, "must be no more than 63 characters")
		}
		if !dns1123LabelRe.MatchString(n) {
			out = append(out, dns1123LabelMsg)
		}
	case "dns1035":
		if len(n) > 63 {
			out = append(out, "must be no more than 63 characters")
		}
		if !dns1035LabelRe.MatchString(n) {
			out = append(out, dns1035LabelMsg)
		}
	case "segment":
		switch {
		case n == "." || n == "..":
			out = append(out, fmt.Sprintf("may not be '%s'", n))
		default:
			for _, c := range []string{"/", "%"} {
				if strings.Contains(n, c) {
					out = append(out, fmt.Sprintf("may not contain '%s'", c))
				}
			}
		}
	default:
		if len(n) > 253 {
			out = append(out, "must be no more than 253 characters")
		}
		if !dns1123SubdomainRe.MatchString(n) {
			out = append(out, dns1123SubdomainMsg)
		}
	}
	return out
}

// nameForm is how a kind's names are validated.
func nameForm(kind string) string {
	switch kind {
	case "Namespace":
		return "label"
	case "Service":
		return "dns1035"
	case "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
		return "segment"
	}
	return "subdomain"
}

func validateMeta(o obj) []fieldErr {
	n := name(o)
	if n == "" {
		return []fieldErr{required("metadata.name", "name or generateName is required")}
	}
	var errs []fieldErr
	for _, msg := range nameProblems(n, nameForm(mstr(o, "kind"))) {
		errs = append(errs, invalidValue("metadata.name", n, msg))
	}
	return errs
}

// kindValidators holds what each kind checks beyond its metadata.
var kindValidators = map[string]func(o obj) []fieldErr{
	"Pod":                func(o obj) []fieldErr { return validatePodSpec(mmap(o, "spec"), "spec") },
	"Deployment":         validateWorkload,
	"ReplicaSet":         validateWorkload,
	"StatefulSet":        validateWorkload,
	"Job":                func(o obj) []fieldErr { return validateJobSpec(mmap(o, "spec"), "spec") },
	"CronJob":            validateCronJob,
	"Secret":             validateSecret,
	"ConfigMap":          validateConfigMap,
	"Role":               func(o obj) []fieldErr { return validateRules(o, true) },
	"ClusterRole":        func(o obj) []fieldErr { return validateRules(o, false) },
	"RoleBinding":        func(o obj) []fieldErr { return validateBinding(o, true) },
	"ClusterRoleBinding": func(o obj) []fieldErr { return validateBinding(o, false) },
}

// validate checks a new or changed object.
func validate(o obj) *apiErr {
	errs := validateMeta(o)
	if f := kindValidators[mstr(o, "kind")]; f != nil {
		errs = append(errs, f(o)...)
	}
	return invalidObject(o, errs)
}

// validateUpdate adds the rules about what a write may not change.
func validateUpdate(cur, next obj) *apiErr {
	if e := validate(next); e != nil {
		return e
	}
	var errs []fieldErr
	switch mstr(next, "kind") {
	case "RoleBinding", "ClusterRoleBinding":
		if !jsonEqual(mget(cur, "roleRef"), mget(next, "roleRef")) {
			errs = append(errs, invalidValue("roleRef", mget(next, "roleRef"), "cannot change roleRef"))
		}
	case "Secret", "ConfigMap":
		errs = immutableData(cur, next)
	}
	return invalidObject(next, errs)
}

func nonNegative(o obj, field string, path ...string) []fieldErr {
	if v := mget(o, path...); v != nil {
		if n, ok := mint(o, path...); !ok || n < 0 {
			return []fieldErr{invalidValue(field, v, "must be greater than or equal to 0")}
		}
	}
	return nil
}

func validateWorkload(o obj) []fieldErr {
	errs := nonNegative(o, "spec.replicas", "spec", "replicas")
	sel := mmap(o, "spec", "selector", "matchLabels")
	if !matchLabelsMap(sel, labelsOf(obj{"metadata": mmap(o, "spec", "template", "metadata")})) {
		errs = append(errs, invalidValue("spec.template.metadata.labels", mmap(o, "spec", "template", "metadata", "labels"),
			"`selector` does not match template `labels`"))
	}
	return append(errs, validatePodSpec(mmap(o, "spec", "template", "spec"), "spec.template.spec")...)
}

func validateJobSpec(spec obj, field string) []fieldErr {
	var errs []fieldErr
	for _, f := range []string{"backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "parallelism", "completions"} {
		errs = append(errs, nonNegative(spec, field+"."+f, f)...)
	}
	errs = append(errs, validatePodSpec(mmap(spec, "template", "spec"), field+".template.spec")...)
	restart := mstr(spec, "template", "spec", "restartPolicy")
	if restart == "" {
		restart = "Always" /* the pod default */
	}
	if restart != "OnFailure" && restart != "Never" {
		errs = append(errs, notSupported(field+".template.spec.restartPolicy", restart, "OnFailure", "Never"))
	}
	return errs
}

func validateCronJob(o obj) []fieldErr {
	var errs []fieldErr
	if n := name(o); len(n) > 52 {
		errs = append(errs, invalidValue("metadata.name", n, "must be no more than 52 characters"))
	}
	spec := mmap(o, "spec")
	switch sched := mstr(spec, "schedule"); {
	case sched == "":
		errs = append(errs, required("spec.schedule", ""))
	case strings.Contains(sched, "TZ"):
		errs = append(errs, invalidValue("spec.schedule", sched, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	default:
		if err := parseCron(sched); err != nil {
			errs = append(errs, invalidValue("spec.schedule", sched, err.Error()))
		}
	}
	if cp := mstr(spec, "concurrencyPolicy"); cp != "Allow" && cp != "Forbid" && cp != "Replace" {
		errs = append(errs, notSupported("spec.concurrencyPolicy", cp, "Allow", "Forbid", "Replace"))
	}
	for _, f := range []string{"startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"} {
		errs = append(errs, nonNegative(spec, "spec."+f, f)...)
	}
	if mmap(spec, "jobTemplate", "spec") == nil {
		return append(errs, required("spec.jobTemplate.spec.template.spec.containers", ""))
	}
	return append(errs, validateJobSpec(mmap(spec, "jobTemplate", "spec"), "spec.jobTemplate.spec")...)
}

// validatePodSpec checks containers (init containers too), their
// resources, env and volume mounts, and the volumes' names.
func validatePodSpec(spec obj, field string) []fieldErr {
	vols, errs := volumeNames(spec, field)
	if len(mlist(spec, "containers")) == 0 {
		errs = append(errs, required(field+".containers", ""))
	}
	for _, list := range []string{"initContainers", "containers"} {
		for i, c := range mlist(spec, list) {
			errs = append(errs, validateContainer(c, fmt.Sprintf("%s.%s[%d]", field, list, i), vols)...)
		}
	}
	if rp := mstr(spec, "restartPolicy"); rp != "" && rp != "Always" && rp != "OnFailure" && rp != "Never" {
		errs = append(errs, notSupported(field+".restartPolicy", rp, "Always", "OnFailure", "Never"))
	}
	return errs
}

func volumeNames(spec obj, field string) (map[string]bool, []fieldErr) {
	vols := map[string]bool{}
	var errs []fieldErr
	for i, v := range mlist(spec, "volumes") {
		f := fmt.Sprintf("%s.volumes[%d].name", field, i)
		switch n := mstr(v, "name"); {
		case n == "":
			errs = append(errs, required(f, ""))
		case vols[n]:
			errs = append(errs, duplicate(f, n))
		default:
			vols[n] = true
		}
	}
	return vols, errs
}

func validateContainer(c interface{}, f string, vols map[string]bool) []fieldErr {
	var errs []fieldErr
	if n := mstr(c, "name"); n == "" {
		errs = append(errs, required(f+".name", ""))
	} else if !dns1123LabelRe.MatchString(n) || len(n) > 63 {
		errs = append(errs, invalidValue(f+".name", n, dns1123LabelMsg))
	}
	if mstr(c, "image") == "" {
		errs = append(errs, required(f+".image", ""))
	}
	for _, kind := range []string{"limits", "requests"} {
		for _, k := range sortedNames(mmap(c, "resources", kind)) {
			v := mmap(c, "resources", kind)[k]
			if !quantityRe.MatchString(fmt.Sprint(v)) {
				errs = append(errs, invalidValue(fmt.Sprintf("%s.resources.%s[%s]", f, kind, k), v,
					"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
			}
		}
	}
	for j, e := range mlist(c, "env") {
		if mstr(e, "name") == "" {
			errs = append(errs, required(fmt.Sprintf("%s.env[%d].name", f, j), ""))
		}
	}
	for j, m := range mlist(c, "volumeMounts") {
		mf := fmt.Sprintf("%s.volumeMounts[%d]", f, j)
		if n := mstr(m, "name"); n == "" {
			errs = append(errs, required(mf+".name", ""))
		} else if !vols[n] {
			errs = append(errs, fieldNotFound(mf+".name", n))
		}
		if mstr(m, "mountPath") == "" {
			errs = append(errs, required(mf+".mountPath", ""))
		}
	}
	return errs
}

// sortedNames is a map's keys in order (errors come in a stable order).
func sortedNames(m obj) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
