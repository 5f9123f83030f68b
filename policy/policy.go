// Package policy enforces the role × data matrix of DESIGN §4, which lives once, in
// schema.graphqls, as @access directives. Decisions are made per schema coordinate before
// execution: an operation that selects any coordinate the caller's role may not read gets no
// data and one FORBIDDEN error listing every denied coordinate. Aliases, fragments, variables
// and nesting cannot get around it because the check walks the validated operation and resolves
// variables itself; a coordinate without a decision is denied. Each role's introspection sees
// a schema reduced to what that role may read.
package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"custodia/model"
)

// DirectiveName is the schema directive that carries decisions.
const DirectiveName = "access"

// Policy holds the decisions read from a schema. It is immutable and safe for concurrent use.
type Policy struct {
	schema *ast.Schema
	// fields maps "Type.field" to the roles that may read it.
	fields map[string][]model.Role
	// guarded maps "Type.field(arg:)" and "Input.field" to the roles that may use them; only
	// arguments and input fields with their own @access are listed (others are open).
	guarded map[string][]model.Role
	// roleSchemas are the per-role schemas shown by introspection.
	roleSchemas map[model.Role]*ast.Schema
	// hidden are, per role, the names of the schema its role schema does not show.
	hidden map[model.Role]map[string]bool
}

// New reads every @access directive of s.
func New(s *ast.Schema) (*Policy, error) {
	p := &Policy{schema: s, fields: map[string][]model.Role{}, guarded: map[string][]model.Role{}}
	for _, def := range s.Types {
		if isIntrospectionType(def.Name) {
			continue
		}
		typeRoles, typeDecided, err := rolesOf(def.Directives)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", def.Name, err)
		}
		for _, f := range def.Fields {
			coord := def.Name + "." + f.Name
			switch def.Kind {
			case ast.Object:
				if strings.HasPrefix(f.Name, "__") {
					continue
				}
				roles, decided, err := rolesOf(f.Directives)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", coord, err)
				}
				if decided {
					p.fields[coord] = roles
				} else if typeDecided {
					p.fields[coord] = typeRoles
				}
				for _, a := range f.Arguments {
					roles, decided, err := rolesOf(a.Directives)
					if err != nil {
						return nil, fmt.Errorf("%s(%s:): %w", coord, a.Name, err)
					}
					if decided {
						p.guarded[coord+"("+a.Name+":)"] = roles
					}
				}
			case ast.InputObject:
				roles, decided, err := rolesOf(f.Directives)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", coord, err)
				}
				if decided {
					p.guarded[coord] = roles
				}
			}
		}
	}
	p.roleSchemas = map[model.Role]*ast.Schema{}
	p.hidden = map[model.Role]map[string]bool{}
	for _, role := range model.AllRole {
		p.roleSchemas[role] = p.schemaFor(role)
		p.hidden[role] = p.hiddenNames(role)
	}
	return p, nil
}

func isIntrospectionType(name string) bool { return strings.HasPrefix(name, "__") }

// rolesOf reads @access(roles: [...]) from a directive list.
func rolesOf(dirs ast.DirectiveList) ([]model.Role, bool, error) {
	d := dirs.ForName(DirectiveName)
	if d == nil {
		return nil, false, nil
	}
	arg := d.Arguments.ForName("roles")
	if arg == nil || arg.Value == nil {
		return nil, false, fmt.Errorf("@%s without roles", DirectiveName)
	}
	var roles []model.Role
	for _, child := range arg.Value.Children {
		r := model.Role(child.Value.Raw)
		if !r.IsValid() {
			return nil, false, fmt.Errorf("@%s names unknown role %q", DirectiveName, child.Value.Raw)
		}
		roles = append(roles, r)
	}
	return roles, true, nil
}

// Allows reports whether role may read the object field coordinate "Type.field". Unknown or
// undecided coordinates are denied.
func (p *Policy) Allows(role model.Role, coordinate string) bool {
	return slices.Contains(p.fields[coordinate], role)
}

// ReadsCopy reports whether role may read the full copy (DESIGN §4): expunged and
// deemed-not-convicted convictions, their sentences and the detention periods that executed
// them. It is the decision on Person.convictions(includeExpunged:); every other path to the
// copy — a watch's events, a writer's lookups — follows it, so that a role that may not read
// the copy finds there exactly what it finds for a record that does not exist.
func (p *Policy) ReadsCopy(role model.Role) bool {
	return slices.Contains(p.guarded["Person.convictions(includeExpunged:)"], role)
}

// Undecided lists the object-type field coordinates that have no @access decision (neither on
// the field nor on its type). It must be empty: a test fails otherwise.
func (p *Policy) Undecided() []string {
	var out []string
	for _, def := range p.schema.Types {
		if def.Kind != ast.Object || isIntrospectionType(def.Name) {
			continue
		}
		for _, f := range def.Fields {
			coord := def.Name + "." + f.Name
			if _, ok := p.fields[coord]; !ok && !strings.HasPrefix(f.Name, "__") {
				out = append(out, coord)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Coordinate is one row of the access matrix.
type Coordinate struct {
	Name  string
	Roles []model.Role
}

// Matrix lists every decided coordinate (fields, guarded arguments and input fields) in
// schema order of type name, for docs/access-matrix.md.
func (p *Policy) Matrix() []Coordinate {
	var out []Coordinate
	for name, roles := range p.fields {
		out = append(out, Coordinate{Name: name, Roles: roles})
	}
	for name, roles := range p.guarded {
		out = append(out, Coordinate{Name: name, Roles: roles})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
