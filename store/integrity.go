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
	if field := invalidField(reflect.ValueOf(v).Elem(), whole, ""); field != "" {
		return corrupt(raw, v, field, nil)
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

// checkedTypes caches, per type, whether a value of it can hold a validated value.
var checkedTypes sync.Map

// holdsValidated says whether a value of type t can hold a validated value (so that the walk
// skips strings, times, byte slices and structs without enums or dates at once).
func holdsValidated(t reflect.Type) bool {
	if v, ok := checkedTypes.Load(t); ok {
		return v.(bool)
	}
	checkedTypes.Store(t, false) // a recursive type is settled below
	holds := false
	switch {
	case t.Kind() != reflect.Pointer && t.Implements(validatedType):
		holds = true
	case t.Kind() == reflect.Pointer, t.Kind() == reflect.Slice, t.Kind() == reflect.Array, t.Kind() == reflect.Map:
		holds = holdsValidated(t.Elem())
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() && f.Tag.Get("bson") != "-" && holdsValidated(f.Type) {
				holds = true
			}
		}
	}
	checkedTypes.Store(t, holds)
	return holds
}

// invalidField returns the path of the first invalid validated value in v, "" when there is
// none.
func invalidField(v reflect.Value, whole bool, path string) string {
	t := v.Type()
	if !holdsValidated(t) {
		return ""
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		// A present optional value must be valid, even under a projection.
		return invalidField(v.Elem(), true, path)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if f := invalidField(v.Index(i), whole, path+"["+strconv.Itoa(i)+"]"); f != "" {
				return f
			}
		}
		return ""
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if f := invalidField(it.Value(), whole, path+"["+fmt.Sprint(it.Key())+"]"); f != "" {
				return f
			}
		}
		return ""
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("bson")
			if !f.IsExported() || tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "" && !f.Anonymous {
				name = strings.ToLower(f.Name[:1]) + f.Name[1:]
			}
			sub := path
			if name != "" {
				sub = strings.TrimPrefix(path+"."+name, ".")
			}
			if bad := invalidField(v.Field(i), whole, sub); bad != "" {
				return bad
			}
		}
		return ""
	}
	if v.IsZero() && !whole {
		return ""
	}
	if !v.Interface().(validated).IsValid() {
		if path == "" {
			return "the value"
		}
		return path
	}
	return ""
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
