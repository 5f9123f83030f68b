package store

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/model"
	"custodia/register"
)

// Documents edited behind the server's back (a database administrator, a restore gone wrong)
// can hold what no custodia write produces: a field of the wrong type, an enum value the
// schema does not know, a date that is not a calendar date, a required value missing. Every
// document the store decodes goes through decodeRaw, which refuses such a document with a
// *CorruptError instead of letting it reach the API — where an unknown enum value or a
// malformed date would be sent to the caller as if it were valid, and a write reading it would
// store it again. The caller gets INTERNAL (the message hidden, the details logged: the Go
// type, the document's _id and the field's path, never a stored value).

// validated is a value with a closed set of valid forms: every enum of the schema (gqlgen
// generates IsValid) and model.Date.
type validated interface{ IsValid() bool }

var validatedType = reflect.TypeFor[validated]()

// bodiless is a document that may lawfully lack its body (an audit entry retention removed):
// then only the values present are checked.
type bodiless interface{ bodyRemoved() bool }

// CorruptError says a stored document is not one custodia wrote: it does not decode, or a
// field holds an invalid value. It names the document and the field, never the value.
type CorruptError struct {
	Type  string // the Go type decoded into
	ID    string // the document's _id, "" when it has none readable
	Field string // the field's path, "" when the document does not decode at all
	Cause error  // the decoder's error, if any
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("stored %s %q is corrupt: %s", e.Type, e.ID, e.Detail())
}

// Detail says what is wrong with the document, without naming it: the field that holds no
// valid value, or why it does not decode.
func (e *CorruptError) Detail() string {
	if e.Field != "" && e.Cause != nil {
		return e.Field + ": " + e.Cause.Error()
	}
	if e.Field != "" {
		return e.Field + " holds no valid value"
	}
	if e.Cause != nil {
		return e.Cause.Error()
	}
	return "it does not decode"
}

// Unwrap returns the decoder's error.
func (e *CorruptError) Unwrap() error { return e.Cause }

// decodeRaw decodes a stored document into v (a pointer) and checks every enum and date in
// it. whole says the document was read without an inclusion projection: then a required
// (non-pointer) enum or date that is missing or empty is corrupt too; under an inclusion
// projection only the values present are checked. Optional values (nil pointers) are never
// required.
func decodeRaw(raw bson.Raw, v any, whole bool) error {
	if err := bson.Unmarshal(raw, v); err != nil {
		return corrupt(raw, v, "", err)
	}
	if b, ok := v.(bodiless); ok && b.bodyRemoved() {
		whole = false
	}
	if field := invalidField(reflect.ValueOf(v).Elem(), whole); field != "" {
		return corrupt(raw, v, strings.TrimPrefix(field, "."), nil)
	}
	if field, err := inconsistent(v); err != nil {
		return corrupt(raw, v, field, err)
	}
	return nil
}

// inconsistent applies the register's rules that hold across the items of one stored
// document, on every read and before every write that reads it: a detention record's periods
// (register.CheckPeriods: none ending before it starts, at most one open, none overlapping —
// two open periods edited in by hand are not shown as the person's detention, nor kept by the
// next write). It returns the field and the rule broken, never a value.
func inconsistent(v any) (field string, err error) {
	if r, ok := v.(*model.DetentionRecord); ok {
		if bad := register.CheckPeriods(slices.Concat(r.Periods, r.CopyOnlyPeriods, r.BlockedPeriods)); bad != nil {
			// A plain error: the caller must get INTERNAL, not the rule's CONFLICT.
			return "periods", errors.New(bad.Error())
		}
	}
	return "", nil
}

func corrupt(raw bson.Raw, v any, field string, cause error) *CorruptError {
	id, _ := raw.Lookup("_id").StringValueOK()
	return &CorruptError{Type: strings.TrimPrefix(reflect.TypeOf(v).String(), "*"), ID: id, Field: field, Cause: cause}
}

// checkPlan is how to find the validated values in a value of one type, worked out once per
// type (checkPlans): which struct fields can hold one, and under which names.
type checkPlan struct {
	kind   reflect.Kind
	leaf   bool                     // the type itself is validated
	valid  func(reflect.Value) bool // for a leaf
	elem   *checkPlan               // pointers, slices, arrays, maps
	fields []fieldCheck             // structs: only the fields that can hold a validated value
}

type fieldCheck struct {
	index int
	name  string // the stored name ("" for an inlined struct)
	plan  *checkPlan
}

// checkPlans caches the plan of each type; nil means a value of the type holds nothing to
// check (strings, times, byte slices, structs without enums or dates).
var checkPlans sync.Map

func planOf(t reflect.Type) *checkPlan {
	if p, ok := checkPlans.Load(t); ok {
		return p.(*checkPlan)
	}
	checkPlans.Store(t, (*checkPlan)(nil)) // a recursive type is settled below
	var p *checkPlan
	switch {
	case t.Kind() != reflect.Pointer && t.Implements(validatedType):
		p = &checkPlan{kind: t.Kind(), leaf: true, valid: validator(t)}
	case t.Kind() == reflect.Pointer, t.Kind() == reflect.Slice, t.Kind() == reflect.Array, t.Kind() == reflect.Map:
		if elem := planOf(t.Elem()); elem != nil {
			p = &checkPlan{kind: t.Kind(), elem: elem}
		}
	case t.Kind() == reflect.Struct:
		var fields []fieldCheck
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("bson")
			if !f.IsExported() || tag == "-" {
				continue
			}
			if fp := planOf(f.Type); fp != nil {
				name, _, _ := strings.Cut(tag, ",")
				if name == "" && !f.Anonymous {
					name = strings.ToLower(f.Name[:1]) + f.Name[1:]
				}
				fields = append(fields, fieldCheck{index: i, name: name, plan: fp})
			}
		}
		if len(fields) > 0 {
			p = &checkPlan{kind: reflect.Struct, fields: fields}
		}
	}
	checkPlans.Store(t, p)
	return p
}

// validator is the validity test of a validated type, without boxing each value where it can
// be helped: a date is checked as a string; an enum's valid values (a closed set) are
// remembered once seen, so each later one costs a map lookup.
func validator(t reflect.Type) func(reflect.Value) bool {
	boxed := func(v reflect.Value) bool { return v.Interface().(validated).IsValid() }
	switch {
	case t == reflect.TypeFor[model.Date]():
		return func(v reflect.Value) bool { return model.Date(v.String()).IsValid() }
	case t.Kind() != reflect.String:
		return boxed
	}
	var mu sync.RWMutex
	known := map[string]bool{} // only valid values: bounded by the enum
	return func(v reflect.Value) bool {
		s := v.String()
		mu.RLock()
		ok := known[s]
		mu.RUnlock()
		if ok {
			return true
		}
		if !boxed(v) {
			return false
		}
		mu.Lock()
		known[s] = true
		mu.Unlock()
		return true
	}
}

// invalidField returns the path of the first invalid validated value in v, "" when there is
// none. The path is built only for an invalid value, on the way back.
func invalidField(v reflect.Value, whole bool) string {
	p := planOf(v.Type())
	if p == nil {
		return ""
	}
	if path, bad := p.invalid(v, whole); bad {
		if path == "" {
			return "the value"
		}
		return path
	}
	return ""
}

func (p *checkPlan) invalid(v reflect.Value, whole bool) (path string, bad bool) {
	switch {
	case p.leaf:
		if v.IsZero() {
			return "", whole
		}
		return "", !p.valid(v)
	case p.kind == reflect.Pointer:
		if v.IsNil() {
			return "", false
		}
		// A present optional value must be valid, even under a projection.
		return p.elem.invalid(v.Elem(), true)
	case p.kind == reflect.Slice, p.kind == reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if sub, bad := p.elem.invalid(v.Index(i), whole); bad {
				return "[" + strconv.Itoa(i) + "]" + sub, true
			}
		}
	case p.kind == reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if sub, bad := p.elem.invalid(it.Value(), whole); bad {
				return "[" + fmt.Sprint(it.Key()) + "]" + sub, true
			}
		}
	case p.kind == reflect.Struct:
		for _, f := range p.fields {
			if sub, bad := f.plan.invalid(v.Field(f.index), whole); bad {
				if f.name == "" { // an inlined struct
					return sub, true
				}
				return "." + f.name + sub, true
			}
		}
	}
	return "", false
}

// keepsWhole says whether a projection leaves every field of the document in (none, or one
// that only excludes fields, whose absence then is the projection's doing only for those).
func keepsWhole(projection any) bool {
	d, ok := projection.(bson.D)
	if projection == nil || (ok && len(d) == 0) {
		return true
	}
	if !ok {
		return false
	}
	for _, e := range d {
		if n, isInt := e.Value.(int); !isInt || n != 0 {
			return false
		}
	}
	return true
}
