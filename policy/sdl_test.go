package policy_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"custodia/model"
)

// TestSDLForIsTheRoleSchema: each role's SDL parses as a schema on its own and holds exactly the
// role schema's types and fields (and their arguments), without the server's @access policy.
func TestSDLForIsTheRoleSchema(t *testing.T) {
	p, _ := load(t)
	for _, role := range model.AllRole {
		t.Run(string(role), func(t *testing.T) {
			sdl := p.SDLFor(role)
			if strings.Contains(sdl, "@access(") || regexp.MustCompile(`(?m)^directive `).MatchString(sdl) {
				t.Errorf("the SDL carries server directives:\n%s", sdl)
			}
			parsed, err := gqlparser.LoadSchema(&ast.Source{Name: string(role) + ".graphql", Input: sdl})
			if err != nil {
				t.Fatalf("the SDL does not load: %v", err)
			}
			want := p.SchemaFor(role)
			if got, w := userTypes(parsed), userTypes(want); !slices.Equal(got, w) {
				t.Fatalf("types: got %v, want %v", got, w)
			}
			for name, def := range want.Types {
				if def.BuiltIn {
					continue
				}
				if got, w := fieldSignatures(parsed.Types[name]), fieldSignatures(def); !slices.Equal(got, w) {
					t.Errorf("%s: got %v, want %v", name, got, w)
				}
			}
			if p.SDLFor(role) != sdl {
				t.Error("the SDL is not stable between calls")
			}
		})
	}
	if sdl := p.SDLFor("NOBODY"); strings.TrimSpace(sdl) != "" {
		t.Errorf("an unknown role gets an empty schema, got:\n%s", sdl)
	}
}

func userTypes(s *ast.Schema) []string {
	var out []string
	for name, def := range s.Types {
		if !def.BuiltIn {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// fieldSignatures lists a type's fields with their argument names and types (introspection
// fields left out), plus its enum values.
func fieldSignatures(def *ast.Definition) []string {
	var out []string
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		sig := f.Name + ":" + f.Type.String()
		for _, a := range f.Arguments {
			sig += " " + a.Name + ":" + a.Type.String()
		}
		out = append(out, sig)
	}
	for _, v := range def.EnumValues {
		out = append(out, v.Name)
	}
	slices.Sort(out)
	return out
}
