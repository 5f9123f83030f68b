package policy

import (
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"custodia/model"
	"custodia/selection"
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
// the audit trail), sorted and without duplicates. It walks the operation with the shared
// selection walker; callers that also measure the operation feed a Checker to their own walk.
func (p *Policy) Check(role model.Role, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) (selected, denied []string) {
	c := p.NewChecker(role, doc, vars)
	w := selection.Walker{Doc: doc, Visit: c.Visit, MissingFragment: c.MissingFragment}
	w.Operation(op)
	return c.Selected(), c.Denied()
}

// Checker collects, during one selection walk (package selection) of a validated operation,
// the coordinates it selects and those of them the role may not use. A fragment's checks do
// not depend on where it is spread (its type condition fixes the parent type), so the walk's
// once-per-fragment visit checks everything.
type Checker struct {
	p        *Policy
	role     model.Role
	doc      *ast.QueryDocument
	vars     map[string]any
	denied   map[string]bool
	selected map[string]bool
}

// NewChecker starts a check for role of the document doc with the request's (coerced)
// variables.
func (p *Policy) NewChecker(role model.Role, doc *ast.QueryDocument, vars map[string]any) *Checker {
	return &Checker{p: p, role: role, doc: doc, vars: vars, denied: map[string]bool{}, selected: map[string]bool{}}
}

// Selected is every object-field coordinate visited so far, sorted.
func (c *Checker) Selected() []string { return sortedKeys(c.selected) }

// Denied is every coordinate visited so far that the role may not use and may be told about,
// sorted. A FORBIDDEN error lists them, so it names no type outside the role's schema
// (SchemaFor) that the caller did not write as a type condition or variable type: beneath a
// denied edge (Query.auditTrail for POLICE) the coordinates of the types only that edge reaches
// (AuditEntryConnection.edges, …) are left out, the outermost denied coordinate of each path
// is always on a type the role sees. Should nothing nameable remain, the one entry is Hidden:
// the operation is refused all the same.
func (c *Checker) Denied() []string {
	if len(c.denied) == 0 {
		return nil
	}
	visible := c.p.SchemaFor(c.role).Types
	typed := typeNames(c.doc)
	out := make([]string, 0, len(c.denied))
	for _, coord := range sortedKeys(c.denied) {
		typ, _, qualified := strings.Cut(coord, ".")
		if !qualified || visible[typ] != nil || typed[typ] || c.p.rootType(typ) {
			out = append(out, coord)
		}
	}
	if len(out) == 0 {
		return []string{Hidden}
	}
	return out
}

// rootType reports whether name is one of the schema's operation types, which the operation
// keyword names whatever the role.
func (p *Policy) rootType(name string) bool {
	for _, d := range []*ast.Definition{p.schema.Query, p.schema.Mutation, p.schema.Subscription} {
		if d != nil && d.Name == name {
			return true
		}
	}
	return false
}

// typeNames are the type names the caller wrote in doc: fragment and inline-fragment type
// conditions and variable types.
func typeNames(doc *ast.QueryDocument) map[string]bool {
	out := map[string]bool{}
	if doc == nil {
		return out
	}
	var set func(ast.SelectionSet)
	set = func(s ast.SelectionSet) {
		for _, sel := range s {
			switch sel := sel.(type) {
			case *ast.Field:
				set(sel.SelectionSet)
			case *ast.InlineFragment:
				if sel.TypeCondition != "" {
					out[sel.TypeCondition] = true
				}
				set(sel.SelectionSet)
			}
		}
	}
	for _, op := range doc.Operations {
		for _, v := range op.VariableDefinitions {
			for t := v.Type; t != nil; t = t.Elem {
				out[t.NamedType] = true
			}
		}
		set(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		out[f.TypeCondition] = true
		set(f.SelectionSet)
	}
	return out
}

// MissingFragment denies a spread whose fragment is not defined (fail closed; validation
// refuses such documents first).
func (c *Checker) MissingFragment(name string) { c.denied["fragment "+name] = true }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Visit checks one field node.
func (c *Checker) Visit(f selection.Field) {
	if f.Introspection() || f.Parent != nil && isIntrospectionType(f.Parent.Name) {
		return // introspection (and what it selects) is reduced per role, not denied
	}
	if f.Def == nil || f.Parent == nil || f.Parent.Name == "" {
		c.denied[f.Node.Name] = true // not validated against the schema: fail closed
		return
	}
	coord := f.Coordinate()
	c.selected[coord] = true
	if !c.p.Allows(c.role, coord) {
		c.denied[coord] = true
	}
	for _, argDef := range f.Def.Arguments {
		arg := f.Node.Arguments.ForName(argDef.Name)
		var value any
		if arg != nil {
			v, err := arg.Value.Value(c.vars)
			if err != nil {
				c.denied[coord+"("+argDef.Name+":)"] = true
				continue
			}
			value = v
		}
		c.argument(coord+"("+argDef.Name+":)", argDef, value)
	}
}

// argument checks one argument value against its own @access (when it differs from the
// default) and, for input objects, every input field that carries @access.
func (w *Checker) argument(coord string, def *ast.ArgumentDefinition, value any) {
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
func (w *Checker) inputValue(t *ast.Type, value any) {
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
