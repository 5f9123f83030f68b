package policy

import (
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"custodia/model"
)

// SDLFor is the role's schema (SchemaFor) as GraphQL SDL, for code generators: exactly the
// types, fields, arguments and input fields the role may use, in a stable order (directives and
// types sorted by name). The server's own directives (@access and the like) are left out —
// they are server policy, not part of the contract a client codes against — while the
// specified ones (@deprecated, @specifiedBy, @oneOf) are kept. An unknown role gets an empty
// document.
func (p *Policy) SDLFor(role model.Role) string {
	src := p.SchemaFor(role)
	out := &ast.Schema{Types: make(map[string]*ast.Definition, len(src.Types))}
	for name, def := range src.Types {
		c := *def
		c.Directives = specifiedDirectives(def.Directives)
		c.Fields = make(ast.FieldList, 0, len(def.Fields))
		for _, f := range def.Fields {
			fc := *f
			fc.Directives = specifiedDirectives(f.Directives)
			fc.Arguments = make(ast.ArgumentDefinitionList, 0, len(f.Arguments))
			for _, a := range f.Arguments {
				ac := *a
				ac.Directives = specifiedDirectives(a.Directives)
				fc.Arguments = append(fc.Arguments, &ac)
			}
			c.Fields = append(c.Fields, &fc)
		}
		c.EnumValues = make(ast.EnumValueList, 0, len(def.EnumValues))
		for _, v := range def.EnumValues {
			vc := *v
			vc.Directives = specifiedDirectives(v.Directives)
			c.EnumValues = append(c.EnumValues, &vc)
		}
		out.Types[name] = &c
	}
	// One definition at a time, sorted by name and separated by a blank line (the formatter
	// would run them together); roots are named Query and Mutation, so no schema block is needed.
	names := make([]string, 0, len(out.Types))
	for name, def := range out.Types {
		if !def.BuiltIn {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteString("\n")
		}
		one := &ast.Schema{Types: map[string]*ast.Definition{name: out.Types[name]}}
		formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(one)
	}
	return b.String()
}

// specifiedDirectives keeps the directives the GraphQL specification defines.
func specifiedDirectives(list ast.DirectiveList) ast.DirectiveList {
	var out ast.DirectiveList
	for _, d := range list {
		switch d.Name {
		case "deprecated", "specifiedBy", "oneOf":
			out = append(out, d)
		}
	}
	return out
}
