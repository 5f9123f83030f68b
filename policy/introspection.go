package policy

import (
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"custodia/model"
)

// SchemaFor is the schema as the role may see it: only the fields, arguments and input fields
// it may use, and only the types reachable through them. Introspection and so GraphiQL's
// documentation and autocompletion are served from it. An unknown role gets an empty schema.
func (p *Policy) SchemaFor(role model.Role) *ast.Schema {
	if s, ok := p.roleSchemas[role]; ok {
		return s
	}
	return &ast.Schema{Types: map[string]*ast.Definition{}, Directives: map[string]*ast.DirectiveDefinition{}}
}

func (p *Policy) schemaFor(role model.Role) *ast.Schema {
	out := &ast.Schema{
		Types:         map[string]*ast.Definition{},
		Directives:    p.schema.Directives,
		PossibleTypes: map[string][]*ast.Definition{},
		Implements:    map[string][]*ast.Definition{},
		Description:   p.schema.Description,
	}
	var visit func(name string)
	visit = func(name string) {
		if _, done := out.Types[name]; done {
			return
		}
		def := p.schema.Types[name]
		if def == nil {
			return
		}
		c := *def
		c.Fields = nil
		out.Types[name] = &c
		for _, f := range def.Fields {
			switch def.Kind {
			case ast.Object:
				if !isIntrospectionType(name) && !strings.HasPrefix(f.Name, "__") && !p.Allows(role, name+"."+f.Name) {
					continue
				}
			case ast.InputObject:
				if roles, guarded := p.guarded[name+"."+f.Name]; guarded && !slices.Contains(roles, role) {
					continue
				}
			}
			fc := *f
			fc.Arguments = nil
			for _, a := range f.Arguments {
				if roles, guarded := p.guarded[name+"."+f.Name+"("+a.Name+":)"]; guarded && !slices.Contains(roles, role) {
					continue
				}
				fc.Arguments = append(fc.Arguments, a)
				visit(a.Type.Name())
			}
			c.Fields = append(c.Fields, &fc)
			visit(f.Type.Name())
		}
	}
	// Built-in scalars and introspection types are always present.
	for name, def := range p.schema.Types {
		if def.BuiltIn {
			visit(name)
		}
	}
	for _, root := range []*ast.Definition{p.schema.Query, p.schema.Mutation, p.schema.Subscription} {
		if root == nil {
			continue
		}
		visit(root.Name)
		if len(out.Types[root.Name].Fields) == 0 {
			delete(out.Types, root.Name)
			continue
		}
		switch root {
		case p.schema.Query:
			out.Query = out.Types[root.Name]
		case p.schema.Mutation:
			out.Mutation = out.Types[root.Name]
		case p.schema.Subscription:
			out.Subscription = out.Types[root.Name]
		}
	}
	for _, t := range p.schema.Directives {
		for _, a := range t.Arguments {
			visit(a.Type.Name())
		}
	}
	return out
}
