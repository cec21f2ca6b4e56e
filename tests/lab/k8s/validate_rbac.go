// validate_rbac.go: Roles, ClusterRoles and their bindings as
// pkg/apis/rbac/validation checks them: every rule has verbs and either
// apiGroups and resources or (ClusterRoles only) nonResourceURLs; a binding
// names a Role or ClusterRole (a ClusterRoleBinding only a ClusterRole) in
// rbac.authorization.k8s.io, and subjects of a known kind with a name (a
// ServiceAccount's namespace is required outside a namespace). roleRef is
// immutable (validateUpdate).
package main

import "fmt"

func validateRules(o obj, namespaced bool) []fieldErr {
	var errs []fieldErr
	for i, r := range mlist(o, "rules") {
		f := fmt.Sprintf("rules[%d]", i)
		if len(mlist(r, "verbs")) == 0 {
			errs = append(errs, required(f+".verbs", "verbs must contain at least one value"))
		}
		if urls := mlist(r, "nonResourceURLs"); len(urls) > 0 {
			if namespaced {
				errs = append(errs, invalidValue(f+".nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(mlist(r, "apiGroups")) > 0 || len(mlist(r, "resources")) > 0 || len(mlist(r, "resourceNames")) > 0 {
				errs = append(errs, invalidValue(f+".nonResourceURLs", urls, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(mlist(r, "apiGroups")) == 0 {
			errs = append(errs, required(f+".apiGroups", "resource rules must supply at least one api group"))
		}
		if len(mlist(r, "resources")) == 0 {
			errs = append(errs, required(f+".resources", "resource rules must supply at least one resource"))
		}
	}
	return errs
}

func validateBinding(o obj, namespaced bool) []fieldErr {
	var errs []fieldErr
	if g := mstr(o, "roleRef", "apiGroup"); g != rbacGroup {
		errs = append(errs, notSupported("roleRef.apiGroup", g, rbacGroup))
	}
	kinds := []string{"Role", "ClusterRole"}
	if !namespaced {
		kinds = []string{"ClusterRole"}
	}
	if k := mstr(o, "roleRef", "kind"); k != kinds[0] && k != kinds[len(kinds)-1] {
		errs = append(errs, notSupported("roleRef.kind", k, kinds...))
	}
	if n := mstr(o, "roleRef", "name"); n == "" {
		errs = append(errs, required("roleRef.name", ""))
	} else {
		for _, msg := range nameProblems(n, "segment") {
			errs = append(errs, invalidValue("roleRef.name", n, msg))
		}
	}
	for i, s := range mlist(o, "subjects") {
		errs = append(errs, validateSubject(s, fmt.Sprintf("subjects[%d]", i), namespaced)...)
	}
	return errs
}

func validateSubject(s interface{}, f string, namespaced bool) []fieldErr {
	var errs []fieldErr
	n := mstr(s, "name")
	if n == "" {
		errs = append(errs, required(f+".name", ""))
	}
	switch kind, group := mstr(s, "kind"), mstr(s, "apiGroup"); kind {
	case "ServiceAccount":
		if n != "" {
			for _, msg := range nameProblems(n, "subdomain") {
				errs = append(errs, invalidValue(f+".name", n, msg))
			}
		}
		if group != "" {
			errs = append(errs, notSupported(f+".apiGroup", group, ""))
		}
		if !namespaced && mstr(s, "namespace") == "" {
			errs = append(errs, required(f+".namespace", ""))
		}
	case "User", "Group":
		if group != rbacGroup {
			errs = append(errs, notSupported(f+".apiGroup", group, rbacGroup))
		}
	default:
		errs = append(errs, notSupported(f+".kind", kind, "ServiceAccount", "User", "Group"))
	}
	return errs
}
