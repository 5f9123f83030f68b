package policy

import (
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"custodia/model"
)

// Hidden is the placeholder Redact puts where a message named something the role may not see.
const Hidden = "<hidden>"

// names lists every name a schema declares: types, fields, arguments, input fields and enum
// values.
func names(s *ast.Schema) map[string]bool {
	out := map[string]bool{}
	for name, def := range s.Types {
		out[name] = true
		for _, f := range def.Fields {
			out[f.Name] = true
			for _, a := range f.Arguments {
				out[a.Name] = true
			}
		}
		for _, v := range def.EnumValues {
			out[v.Name] = true
		}
	}
	return out
}

// hiddenNames are the names of the full schema that appear nowhere in the role's schema.
func (p *Policy) hiddenNames(role model.Role) map[string]bool {
	visible := names(p.SchemaFor(role))
	hidden := map[string]bool{}
	for name := range names(p.schema) {
		if !visible[name] {
			hidden[name] = true
		}
	}
	return hidden
}

// HiddenNames lists, unsorted, the names (types, fields, arguments, input fields, enum values)
// of the schema that the role's schema (SchemaFor) does not show anywhere.
func (p *Policy) HiddenNames(role model.Role) []string {
	out := make([]string, 0, len(p.hidden[role]))
	for n := range p.hidden[role] {
		out = append(out, n)
	}
	return out
}

// Redactor returns a function that replaces, in a message meant for a caller with role, every
// name hidden from the role that the caller did not write themselves in typed (their operation
// text) by Hidden. Names are matched as whole GraphQL names. gqlparser and gqlgen quote every
// schema name they put in a message ("Cannot query field \"x\" on type \"T\""): inside double
// quotes every hidden name is replaced; outside them, where the message's own English is, a
// hidden name is replaced unless it is a plain lowercase word (so a hidden field named "on",
// "to" or "field" does not turn the sentence into "Cannot query <hidden> ..."). typed is read
// once, however many messages are redacted.
func (p *Policy) Redactor(role model.Role, typed string) func(message string) string {
	hidden := p.hidden[role]
	if hidden == nil {
		hidden = p.hiddenNames(role)
	}
	var wrote map[string]bool
	return func(message string) string {
		var b strings.Builder
		quoted := false
		splitNames(message, func(part string, name bool) {
			if !name {
				quoted = quoted != (strings.Count(part, `"`)%2 == 1)
			}
			if name && hidden[part] && (quoted || !plainWord(part)) {
				if wrote == nil {
					wrote = map[string]bool{}
					splitNames(typed, func(part string, name bool) {
						if name {
							wrote[part] = true
						}
					})
				}
				if !wrote[part] {
					part = Hidden
				}
			}
			b.WriteString(part)
		})
		return b.String()
	}
}

// plainWord says a name is an ordinary lowercase word (letters a–z only).
func plainWord(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] < 'a' || name[i] > 'z' {
			return false
		}
	}
	return true
}

// splitNames cuts text into GraphQL names and what lies between them, in order.
func splitNames(text string, fn func(part string, name bool)) {
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && isNameByte(text[j], j > i) {
			j++
		}
		if j > i {
			fn(text[i:j], true)
			i = j
			continue
		}
		for j < len(text) && !isNameByte(text[j], false) {
			j++
		}
		fn(text[i:j], false)
		i = j
	}
}

func isNameByte(c byte, inside bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || inside && c >= '0' && c <= '9'
}
