// fielderr.go: field errors as k8s.io/apimachinery's field.Error prints them
// ("spec.schedule: Required value", `data[a b]: Invalid value: "a b": ...`,
// `roleRef.kind: Unsupported value: "X": supported values: "Role",
// "ClusterRole"`) and the 422 Invalid Status an object's errors make, with
// one cause per error, the way kubectl reads them.
package main

import (
	"fmt"
	"strings"
)

type fieldErr struct {
	typ    string /* "Required value", "Invalid value", ... (field.ErrorType's text) */
	field  string
	value  interface{}
	detail string
}

var causeReasons = map[string]string{"Required value": "FieldValueRequired", "Invalid value": "FieldValueInvalid",
	"Unsupported value": "FieldValueNotSupported", "Not found": "FieldValueNotFound", "Duplicate value": "FieldValueDuplicate",
	"Forbidden": "FieldValueForbidden", "Too long": "FieldValueTooLong"}

func required(field, detail string) fieldErr { return fieldErr{"Required value", field, nil, detail} }

func invalidValue(field string, v interface{}, detail string) fieldErr {
	return fieldErr{"Invalid value", field, v, detail}
}

func notSupported(field string, v interface{}, supported ...string) fieldErr {
	quoted := make([]string, len(supported))
	for i, s := range supported {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return fieldErr{"Unsupported value", field, v, "supported values: " + strings.Join(quoted, ", ")}
}

func fieldNotFound(field string, v interface{}) fieldErr { return fieldErr{"Not found", field, v, ""} }

func duplicate(field string, v interface{}) fieldErr {
	return fieldErr{"Duplicate value", field, v, ""}
}

func forbidden(field, detail string) fieldErr { return fieldErr{"Forbidden", field, nil, detail} }

func tooLong(field string, max int) fieldErr {
	return fieldErr{"Too long", field, nil, fmt.Sprintf("must have at most %d bytes", max)}
}

// body is field.Error.ErrorBody: the type, the value for the types that
// show one (strings quoted, numbers and booleans bare), then the detail.
func (f fieldErr) body() string {
	s := f.typ
	switch f.typ {
	case "Required value", "Forbidden", "Too long":
	default:
		switch v := f.value.(type) {
		case string:
			s += fmt.Sprintf(": %q", v)
		case float64, bool, int:
			s += fmt.Sprintf(": %v", v)
		default:
			s += ": " + mustJSON(v)
		}
	}
	if f.detail != "" {
		s += ": " + f.detail
	}
	return s
}

func (f fieldErr) String() string { return f.field + ": " + f.body() }

// invalidObject is errors.NewInvalid: nil when there is no error.
func invalidObject(o obj, errs []fieldErr) *apiErr {
	if len(errs) == 0 {
		return nil
	}
	res := resByKind(mstr(o, "kind"))
	kind, group := mstr(o, "kind"), ""
	if res != nil {
		kind, group = res.kind, res.group
	}
	qualifiedKind := kind
	if group != "" {
		qualifiedKind += "." + group
	}
	var causes []interface{}
	var msgs []string
	for _, f := range errs {
		causes = append(causes, obj{"reason": causeReasons[f.typ], "message": f.body(), "field": f.field})
		msgs = append(msgs, f.String())
	}
	all := msgs[0]
	if len(msgs) > 1 {
		all = "[" + strings.Join(msgs, ", ") + "]"
	}
	return &apiErr{422, "Invalid", fmt.Sprintf("%s %q is invalid: %s", qualifiedKind, name(o), all),
		obj{"name": name(o), "group": group, "kind": kind, "causes": causes}}
}
