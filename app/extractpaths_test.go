package app_test

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"custodia/graph"
	"custodia/internal/testenv"
	"custodia/model"
)

// schemaPath is one way from a root query to a Conviction, Sentence or DetentionPeriod.
type schemaPath struct {
	fields []*ast.FieldDefinition // root field first
	types  []string               // the type each field leads to
	copy   bool                   // includeExpunged: true on every field that takes it
}

func (p schemaPath) String() string {
	parts := make([]string, len(p.fields))
	for i, f := range p.fields {
		parts[i] = f.Name
	}
	s := strings.Join(parts, ".")
	if p.copy {
		s += "(copy)"
	}
	return s
}

// extractTargets are the types that identify a conviction.
var extractTargets = map[string]bool{"Conviction": true, "Sentence": true, "DetentionPeriod": true}

// rootArgs are the values of the required arguments of the root queries that lead to persons:
// the walk follows every root field whose required arguments it can fill.
var rootArgs = map[string]string{
	"id":         "$pid",
	"nationalId": "$nid",
	"filter":     `{familyName: "mala", dateOfBirth: "1995-03-08"}`,
	"purpose":    "$p",
}

// extractPaths generates, from the full schema, every path from a root query to a type that
// identifies a conviction, without visiting a type twice on one path; every path that passes
// a field with includeExpunged comes twice, with the default (the extract) and with true.
func extractPaths(s *ast.Schema) []schemaPath {
	var out []schemaPath
	var walk func(p schemaPath, typeName string, seen map[string]bool)
	walk = func(p schemaPath, typeName string, seen map[string]bool) {
		def := s.Types[typeName]
		for _, f := range def.Fields {
			inner := f.Type.Name()
			d := s.Types[inner]
			if strings.HasPrefix(f.Name, "__") || d == nil || d.Kind != ast.Object || seen[inner] {
				continue
			}
			next := schemaPath{fields: append(append([]*ast.FieldDefinition{}, p.fields...), f), types: append(append([]string{}, p.types...), inner)}
			if extractTargets[inner] {
				out = append(out, next)
				if hasArg(next, "includeExpunged") {
					next.copy = true
					out = append(out, next)
					next.copy = false
				}
			}
			seen[inner] = true
			walk(next, inner, seen)
			delete(seen, inner)
		}
	}
	for _, f := range s.Query.Fields {
		ok := !strings.HasPrefix(f.Name, "__")
		for _, a := range f.Arguments {
			if _, known := rootArgs[a.Name]; a.Type.NonNull && !known {
				ok = false
			}
		}
		if d := s.Types[f.Type.Name()]; ok && d != nil && d.Kind == ast.Object {
			walk(schemaPath{fields: []*ast.FieldDefinition{f}, types: []string{f.Type.Name()}}, f.Type.Name(), map[string]bool{f.Type.Name(): true})
		}
	}
	return out
}

func hasArg(p schemaPath, name string) bool {
	for _, f := range p.fields {
		if f.Arguments.ForName(name) != nil {
			return true
		}
	}
	return false
}

// query builds the operation for a path: every scalar field of the target.
func (p schemaPath) query(s *ast.Schema) string {
	var scalars []string
	for _, f := range s.Types[p.types[len(p.types)-1]].Fields {
		if d := s.Types[f.Type.Name()]; d != nil && (d.Kind == ast.Scalar || d.Kind == ast.Enum) && len(f.Arguments) == 0 {
			scalars = append(scalars, f.Name)
		}
	}
	sel := "{ " + strings.Join(scalars, " ") + " }"
	var params []string
	for i := len(p.fields) - 1; i >= 0; i-- {
		f := p.fields[i]
		var args []string
		for _, a := range f.Arguments {
			switch {
			case a.Name == "includeExpunged" && p.copy:
				args = append(args, "includeExpunged: true")
			case i == 0 && a.Type.NonNull:
				value := rootArgs[a.Name]
				args = append(args, a.Name+": "+value)
				if strings.HasPrefix(value, "$") {
					params = append(params, value+": "+a.Type.String())
				}
			}
		}
		call := f.Name
		if len(args) > 0 {
			call += "(" + strings.Join(args, ", ") + ")"
		}
		sel = "{ " + call + " " + sel + " }"
	}
	return "query(" + strings.Join(params, ", ") + ") " + sel
}

// allowedFor says whether every coordinate of the path (and includeExpunged, when set) is in a
// role's schema.
func (p schemaPath) allowedFor(roleSchema *ast.Schema) bool {
	typeName := roleSchema.Query.Name
	for _, f := range p.fields {
		def := roleSchema.Types[typeName]
		if def == nil {
			return false
		}
		rf := def.Fields.ForName(f.Name)
		if rf == nil || (p.copy && f.Arguments.ForName("includeExpunged") != nil && rf.Arguments.ForName("includeExpunged") == nil) {
			return false
		}
		typeName = f.Type.Name()
	}
	return true
}

// TestExtractRuleOnEveryPath: a person has an expunged conviction whose imprisonment was
// executed in detention, a deemed-not-convicted conviction and a visible one. For every role
// and every path the schema offers from a root query to Conviction, Sentence and
// DetentionPeriod (generated from the schema), an extract reader never receives anything that
// identifies the hidden convictions (their IDs, sentence and period IDs, case references,
// court), and a copy reader who asks for the copy does.
func TestExtractRuleOnEveryPath(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	l := &lifecycle{t: t, env: env}
	nid := validBirthNumber(777)
	pid := testenv.Path(env.MustData(RG, registerPerson, map[string]any{"in": personInput(nid), "key": "paths-person", "p": registrarPurpose()}), "registerPerson", "id").(string)
	const record = `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) { recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id sentences { id } } }`
	conviction := func(key, court, ref, final string, sentence map[string]any, intentional bool) recordedOut {
		return testenv.DataAs[recordedOut](t, env.As(C, record, map[string]any{"pid": pid, "k": key, "p": testenv.Purpose(C), "in": map[string]any{
			"court": court, "caseReference": ref, "decisionDate": final, "finalDate": final,
			"offences":  []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": intentional}},
			"sentences": []any{sentence}}}))
	}
	// Expunged: 10 months' imprisonment executed 2019-02-01 … 2019-12-01 in two prisons; §105(1)(d)
	// 3 years → a court may expunge from 2022-12-01; expunged 2023-01-15.
	hidden := conviction("paths-hidden", "Okresní soud v Trutnově", "7 T 99/2018", "2019-01-10", map[string]any{"kind": "IMPRISONMENT", "durationMonths": 10, "status": "PENDING"}, true)
	admit := map[string]any{"kind": "IMPRISONMENT", "prisonId": "PRS-BORY", "start": "2019-02-01", "sentenceId": hidden.C.Sentences[0].ID,
		"responsibleAuthority": map[string]any{"kind": "COURT", "name": "Okresní soud v Trutnově", "caseReference": "7 T 99/2018"}}
	ps := testenv.Purpose(PS)
	var periodIDs []string
	for _, step := range []struct {
		q  string
		in map[string]any
	}{
		{admitQuery, admit},
		{transferQuery, map[string]any{"toPrisonId": "PRS-MIROV", "date": "2019-06-01"}},
		{releaseQuery, map[string]any{"date": "2019-12-01", "reason": "SENTENCE_SERVED"}},
	} {
		r := env.As(PS, step.q, map[string]any{"pid": pid, "in": step.in, "k": l.key("paths-detention"), "p": ps})
		for _, root := range r.Data {
			periodIDs = append(periodIDs, testenv.Path(root, "id").(string))
		}
		if len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}
	if r := l.expunge(C, pid, hidden.C.ID, "2023-01-15", nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	// Deemed not convicted: community service executed.
	deemed := conviction("paths-deemed", "Okresní soud v Náchodě", "2 T 31/2020", "2020-03-02",
		map[string]any{"kind": "COMMUNITY_SERVICE", "durationMonths": 4, "status": "SERVED", "startDate": "2020-04-01", "endDate": "2020-08-01"}, true)
	// Visible: an unpaid fine, and a custody period without a sentence.
	visible := conviction("paths-visible", "Okresní soud v Liberci", "4 T 12/2026", "2026-06-01",
		map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "3000.00", "currency": "CZK"}, "status": "PENDING"}, true)
	if r := env.As(PS, admitQuery, map[string]any{"pid": pid, "in": custody("PRS-PANKRAC", "2026-10-20"), "k": "paths-custody", "p": ps}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}

	secrets := append([]string{hidden.C.ID, hidden.C.Sentences[0].ID, deemed.C.ID, deemed.C.Sentences[0].ID,
		"7 T 99/2018", "2 T 31/2020", "Okresní soud v Trutnově", "Okresní soud v Náchodě"}, periodIDs...)
	full := graph.NewExecutableSchema(graph.Config{}).Schema()
	paths := extractPaths(full)
	if len(paths) < 10 {
		t.Fatalf("the walk found only %d paths: %v", len(paths), paths)
	}
	vars := func(role model.Role) map[string]any {
		return map[string]any{"pid": pid, "nid": nid, "p": testenv.Purpose(role)}
	}
	copySeen, extractSeen := map[string]bool{}, false
	for _, role := range model.AllRole {
		roleSchema := env.Server.Policy.SchemaFor(role)
		for _, p := range paths {
			q := p.query(full)
			r := env.As(role, q, vars(role))
			if !p.allowedFor(roleSchema) {
				if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" || r.Data != nil {
					t.Errorf("%s %s: a path outside the role's schema must be FORBIDDEN without data, got %s", role, p, r.Raw)
				}
				continue
			}
			if len(r.Errors) > 0 && r.Errors[0].Code() != "NOT_FOUND" {
				t.Errorf("%s %s: %s\n%s", role, p, q, r.Raw)
				continue
			}
			if p.copy {
				for _, s := range secrets {
					if strings.Contains(r.Raw, s) {
						copySeen[s] = true
					}
				}
				continue
			}
			for _, s := range secrets {
				if strings.Contains(r.Raw, s) {
					t.Errorf("%s %s: the extract reveals %q of a hidden conviction:\n%s", role, p, s, r.Raw)
				}
			}
			if strings.Contains(r.Raw, visible.C.ID) || strings.Contains(r.Raw, "4 T 12/2026") {
				extractSeen = true
			}
		}
	}
	if !extractSeen {
		t.Error("no extract path returned the visible conviction: the test would pass on an empty answer")
	}
	for _, s := range secrets {
		if !copySeen[s] {
			t.Errorf("no copy path returned %q: the copy must keep what the extract hides", s)
		}
	}
	t.Logf("%d paths × %d roles", len(paths), len(model.AllRole))
}
