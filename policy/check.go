package policy

import (
	"reflect"
	"slices"
	"sort"

	"github.com/vektah/gqlparser/v2/ast"

	"custodia/model"
)

// Denied walks a validated operation and returns, sorted and without duplicates, every
// coordinate the role may not use: selected fields (Type.field), arguments given a value other
// than their default (Type.field(arg:)), and input fields given a value (Input.field) — whether
// written inline or passed in variables. Introspection meta-fields (__typename, __schema,
// __type) are always allowed; what they show is reduced per role by SchemaFor.
func (p *Policy) Denied(role model.Role, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) []string {
	_, denied := p.Check(role, doc, op, vars)
	return denied
}

// Check is Denied that also returns every object-field coordinate the operation selects (for
// the audit trail), sorted and without duplicates.
func (p *Policy) Check(role model.Role, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) (selected, denied []string) {
	w := walker{p: p, role: role, vars: vars, denied: map[string]bool{}, selected: map[string]bool{}, seenFragments: map[string]bool{}}
	w.selections(op.SelectionSet)
	return sortedKeys(w.selected), sortedKeys(w.denied)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// RootFields lists the names of the operation's root fields (through fragments).
func RootFields(op *ast.OperationDefinition) []string {
	var out []string
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				out = append(out, s.Name)
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if s.Definition != nil {
					walk(s.Definition.SelectionSet)
				}
			}
		}
	}
	walk(op.SelectionSet)
	return out
}

type walker struct {
	p             *Policy
	role          model.Role
	vars          map[string]any
	denied        map[string]bool
	selected      map[string]bool
	seenFragments map[string]bool
}

func (w *walker) selections(set ast.SelectionSet) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			w.field(s)
		case *ast.InlineFragment:
			w.selections(s.SelectionSet)
		case *ast.FragmentSpread:
			// A fragment's checks do not depend on where it is spread (its type condition
			// fixes the parent type), so each fragment is walked once.
			if s.Definition == nil {
				w.denied["fragment "+s.Name] = true
				continue
			}
			if !w.seenFragments[s.Name] {
				w.seenFragments[s.Name] = true
				w.selections(s.Definition.SelectionSet)
			}
		}
	}
}

func (w *walker) field(f *ast.Field) {
	if f.Name == "__typename" || f.Name == "__schema" || f.Name == "__type" {
		return // introspection is reduced per role, not denied
	}
	if f.Definition == nil || f.ObjectDefinition == nil {
		w.denied[f.Name] = true // not validated against the schema: fail closed
		return
	}
	coord := f.ObjectDefinition.Name + "." + f.Name
	w.selected[coord] = true
	if !w.p.Allows(w.role, coord) {
		w.denied[coord] = true
	}
	for _, argDef := range f.Definition.Arguments {
		arg := f.Arguments.ForName(argDef.Name)
		var value any
		if arg != nil {
			v, err := arg.Value.Value(w.vars)
			if err != nil {
				w.denied[coord+"("+argDef.Name+":)"] = true
				continue
			}
			value = v
		}
		w.argument(coord+"("+argDef.Name+":)", argDef, value)
	}
	w.selections(f.SelectionSet)
}

// argument checks one argument value against its own @access (when it differs from the
// default) and, for input objects, every input field that carries @access.
func (w *walker) argument(coord string, def *ast.ArgumentDefinition, value any) {
	if roles, guarded := w.p.guarded[coord]; guarded && value != nil && !isDefault(def, value) && !slices.Contains(roles, w.role) {
		w.denied[coord] = true
	}
	w.inputValue(def.Type, value)
}

func isDefault(def *ast.ArgumentDefinition, value any) bool {
	if def.DefaultValue == nil {
		return false
	}
	d, err := def.DefaultValue.Value(nil)
	return err == nil && reflect.DeepEqual(d, value)
}

// inputValue descends into input objects (and lists of them) to check guarded input fields.
func (w *walker) inputValue(t *ast.Type, value any) {
	if value == nil {
		return
	}
	if t.Elem != nil {
		if list, ok := value.([]any); ok {
			for _, v := range list {
				w.inputValue(t.Elem, v)
			}
		} else {
			w.inputValue(t.Elem, value) // a single value coerced to a list
		}
		return
	}
	def := w.p.schema.Types[t.NamedType]
	obj, ok := value.(map[string]any)
	if def == nil || def.Kind != ast.InputObject || !ok {
		return
	}
	for _, f := range def.Fields {
		v, present := obj[f.Name]
		if !present || v == nil {
			continue
		}
		coord := def.Name + "." + f.Name
		if roles, guarded := w.p.guarded[coord]; guarded && !slices.Contains(roles, w.role) {
			w.denied[coord] = true
		}
		w.inputValue(f.Type, v)
	}
}
