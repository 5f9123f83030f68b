package audit

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"custodia/model"
)

// TestEncodeCoversEveryField sets every field of an entry — and of every type inside it,
// recursively — to a non-zero value, one at a time, and expects the canonical encoding to
// change. A field added later is covered by this test automatically; it fails when the field
// is left out of the encoding (a json:"-" tag, an unexported field, a type the encoding drops).
func TestEncodeCoversEveryField(t *testing.T) {
	base := &model.AuditEntry{}
	want := Encode(base)
	paths := 0
	var walk func(path string, typ reflect.Type, reach func(*model.AuditEntry) reflect.Value)
	walk = func(path string, typ reflect.Type, reach func(*model.AuditEntry) reflect.Value) {
		switch {
		case typ == reflect.TypeFor[time.Time]():
		case typ.Kind() == reflect.Struct:
			for i := 0; i < typ.NumField(); i++ {
				f := typ.Field(i)
				if path == "" && f.Name == "Hash" {
					continue // the leaf hash itself, derived from the encoding
				}
				if !f.IsExported() {
					t.Errorf("%s.%s is unexported: the encoding would leave it out", path, f.Name)
					continue
				}
				i := i
				walk(path+"."+f.Name, f.Type, func(e *model.AuditEntry) reflect.Value { return reach(e).Field(i) })
			}
			return
		case typ.Kind() == reflect.Pointer:
			walk(path, typ.Elem(), func(e *model.AuditEntry) reflect.Value {
				v := reach(e)
				if v.IsNil() {
					v.Set(reflect.New(typ.Elem()))
				}
				return v.Elem()
			})
			// The pointer itself, set to its zero value, differs from nil.
			e := &model.AuditEntry{}
			reach(e).Set(reflect.New(typ.Elem()))
			check(t, path+" (present)", e, want)
			paths++
			return
		case typ.Kind() == reflect.Slice:
			walk(path+"[0]", typ.Elem(), func(e *model.AuditEntry) reflect.Value {
				v := reach(e)
				if v.Len() == 0 {
					v.Set(reflect.MakeSlice(typ, 1, 1))
				}
				return v.Index(0)
			})
			e := &model.AuditEntry{}
			reach(e).Set(reflect.MakeSlice(typ, 1, 1))
			check(t, path+" (one element)", e, want)
			paths++
			return
		}
		e := &model.AuditEntry{}
		v := reach(e)
		if !setNonZero(v) {
			t.Errorf("%s: no test value for kind %s; teach setNonZero", path, typ.Kind())
			return
		}
		check(t, path, e, want)
		paths++
	}
	walk("", reflect.TypeFor[model.AuditEntry](), func(e *model.AuditEntry) reflect.Value { return reflect.ValueOf(e).Elem() })
	if paths < 25 {
		t.Errorf("only %d field paths checked", paths)
	}
}

func check(t *testing.T, path string, e *model.AuditEntry, base []byte) {
	t.Helper()
	if got := Encode(e); bytes.Equal(got, base) {
		t.Errorf("%s: changing it leaves the canonical encoding unchanged: not covered by the hash", path)
	}
}

func setNonZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)))
			return true
		}
		return false
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		if !setNonZero(k) {
			return false
		}
		setNonZero(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	default:
		return false
	}
	return true
}

// TestEncodeIsStableAcrossStorage: an empty list and a missing one (what the database may give
// back for an omitted field) encode alike, and so do the same instant in two time zones.
func TestEncodeIsStableAcrossStorage(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	a := &model.AuditEntry{Time: at, Accesses: []model.AuditAccess{}, Coordinates: []string{}}
	b := &model.AuditEntry{Time: at.In(time.FixedZone("CET", 3600))}
	if ea, eb := Encode(a), Encode(b); !bytes.Equal(ea, eb) {
		t.Fatalf("encodings differ:\n%s\n%s", ea, eb)
	}
	if !strings.Contains(string(Encode(a)), `"time":"2026-11-01T12:00:00Z"`) {
		t.Errorf("time not in UTC: %s", Encode(a))
	}
	// Encode never changes the entry it encodes.
	c := &model.AuditEntry{Time: at.In(time.FixedZone("CET", 3600)), Coordinates: []string{}}
	Encode(c)
	if c.Coordinates == nil || c.Time.Location().String() != "CET" {
		t.Errorf("Encode modified its argument: %+v", c)
	}
}
