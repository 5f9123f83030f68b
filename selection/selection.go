// Package selection is the one walker over GraphQL selection sets. Every consumer that needs to
// know what an operation selects reads it from here: the access policy (which coordinates are
// selected), the shape limits (depth, aliases, root fields), the complexity limit (with list
// multipliers) and the loaders' look-ahead.
//
// A walk visits every field node of the document at most once: a fragment's measure is computed
// the first time it is spread and memoised, and every later spread reuses the number (within one
// selection set a fragment spread twice counts once, as execution merges it). The time of a walk
// is therefore linear in the size of the document, whatever its fragment fan-out, and the
// arithmetic saturates instead of overflowing.
//
// One count does expand fragments where they are spread: Overlaps, the pairs of same-named
// fields validation compares, which depend on where fragments land. It works within a budget
// of fields given by the caller, so it too is bounded by the document's size.
//
// The walk does not need a validated document: where validation has not yet attached
// definitions to the nodes, it looks fields up by name in the schema (an unknown field costs 1
// and its children are still counted). So the same walk bounds a document right after parsing,
// before validation spends time on it, and measures the validated operation afterwards.
package selection

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Saturated is the largest value a measure takes; sums and products stop there.
const Saturated = 1 << 40

// Field is one field node met by a walk, with what the schema says about it.
type Field struct {
	Node *ast.Field
	// Parent is the type the field is selected on; nil when the walk could not tell.
	Parent *ast.Definition
	// Def is the field's definition; nil when the parent type has no such field.
	Def *ast.FieldDefinition
	// Root is true for an operation's root fields (when the walk started at the operation).
	Root bool
}

// Coordinate is the field's schema coordinate "Type.field" (just "field" when the parent type is
// unknown).
func (f Field) Coordinate() string {
	if f.Parent == nil {
		return f.Node.Name
	}
	return f.Parent.Name + "." + f.Node.Name
}

// Introspection reports whether the field is a meta-field (__typename, __schema, __type).
func (f Field) Introspection() bool { return strings.HasPrefix(f.Node.Name, "__") }

// Measure is what a selection set costs.
type Measure struct {
	// Depth is the number of levels of fields below the set; introspection meta-fields and
	// fields of introspection types are left out (a set of leaves has depth 1; an empty set 0).
	Depth int
	// Aliases counts aliased fields (introspection included).
	Aliases int
	// Fields counts the fields the set collects at its own level, through inline fragments and
	// fragment spreads: for an operation, its root fields.
	Fields int
	// Complexity estimates the work: every field costs 1 plus its children's complexity, times
	// the expected length when it is a list (see Multiplier).
	Complexity int
}

// Multiplier is the expected length of a list field: its elements' complexity is multiplied by
// Length, or by the value of the argument PageArg when one is given and positive.
type Multiplier struct {
	Length  int
	PageArg string
}

// Walker walks selection sets. Set its fields, then call Operation, Set or Document; a Walker
// remembers the fragments it has measured, so use one Walker per document and variables.
type Walker struct {
	// Schema resolves types where the document carries no definitions yet (before
	// validation). It may be nil for a validated document.
	Schema *ast.Schema
	// Doc supplies fragment definitions for spreads that carry none (before validation).
	Doc *ast.QueryDocument
	// Lists gives list multipliers by coordinate "Type.field"; other fields multiply by 1.
	Lists map[string]Multiplier
	// Fixed gives, by coordinate, a complexity that replaces the field's computed one (its
	// subtree is still walked for the other measures): for fields whose answer is bounded
	// otherwise, such as introspection.
	Fixed map[string]int
	// Vars are the request's variables, for multipliers whose page argument is a variable.
	Vars map[string]any
	// Visit, if set, is called once for every field node the walk reaches.
	Visit func(Field)
	// MissingFragment, if set, is called for a spread of a fragment the document does not
	// define (validation refuses such documents; the policy check fails closed on them).
	MissingFragment func(name string)

	memo        map[string]*fragmentMeasure
	widest      int
	objectWidth int
	spreads     int
	level       int  // fields above the set being walked
	operation   bool // the walk started at an operation
}

type fragmentMeasure struct {
	def *ast.FragmentDefinition
	m   Measure
}

// Operation measures an operation from its root type.
func (w *Walker) Operation(op *ast.OperationDefinition) Measure {
	w.operation, w.level = true, 0
	defer func() { w.operation = false }()
	return w.Set(w.rootType(op.Operation), op.SelectionSet)
}

// Set measures a selection set whose fields are selected on parent (nil if unknown).
func (w *Walker) Set(parent *ast.Definition, set ast.SelectionSet) Measure {
	var spread map[string]bool
	m := w.collect(parent, set, &spread)
	w.widest = max(w.widest, m.Fields)
	return m
}

// collect measures the selections of one set; inline fragments belong to the same set and share
// its record of fragments already spread.
func (w *Walker) collect(parent *ast.Definition, set ast.SelectionSet, spread *map[string]bool) Measure {
	var m Measure
	for _, sel := range set {
		var s Measure
		switch x := sel.(type) {
		case *ast.Field:
			s = w.field(parent, x)
		case *ast.InlineFragment:
			s = w.collect(w.typeCondition(parent, x.TypeCondition), x.SelectionSet, spread)
		case *ast.FragmentSpread:
			w.spreads = add(w.spreads, 1)
			if *spread == nil {
				*spread = map[string]bool{}
			}
			if (*spread)[x.Name] {
				continue // spread twice in one set: execution merges it
			}
			(*spread)[x.Name] = true
			s = w.fragment(x.Name, x.Definition)
		}
		m.Depth = max(m.Depth, s.Depth)
		m.Aliases = add(m.Aliases, s.Aliases)
		m.Fields = add(m.Fields, s.Fields)
		m.Complexity = add(m.Complexity, s.Complexity)
	}
	return m
}

func (w *Walker) field(parent *ast.Definition, node *ast.Field) Measure {
	f := Field{Node: node, Parent: parent, Def: node.Definition, Root: w.operation && w.level == 0}
	if node.ObjectDefinition != nil {
		f.Parent = node.ObjectDefinition
	}
	if f.Def == nil && f.Parent != nil {
		f.Def = f.Parent.Fields.ForName(node.Name)
	}
	if w.Visit != nil {
		w.Visit(f)
	}
	for _, a := range node.Arguments {
		w.widestObject(a.Value)
	}
	for _, d := range node.Directives {
		for _, a := range d.Arguments {
			w.widestObject(a.Value)
		}
	}
	var child *ast.Definition
	if f.Def != nil && w.Schema != nil {
		child = w.Schema.Types[f.Def.Type.Name()]
	}
	w.level++
	sub := w.Set(child, node.SelectionSet)
	w.level--
	m := Measure{Fields: 1, Complexity: add(1, mul(sub.Complexity, w.length(f))), Aliases: sub.Aliases}
	if c, ok := w.Fixed[f.Coordinate()]; ok {
		m.Complexity = c
	}
	if node.Alias != "" && node.Alias != node.Name {
		m.Aliases = add(m.Aliases, 1)
	}
	if !f.Introspection() && (f.Parent == nil || !strings.HasPrefix(f.Parent.Name, "__")) {
		m.Depth = sub.Depth + 1
	}
	return m
}

// widestObject records the largest number of fields of one input object literal within v:
// validation checks an object's fields against each other.
func (w *Walker) widestObject(v *ast.Value) {
	if v == nil {
		return
	}
	if v.Kind == ast.ObjectValue {
		w.objectWidth = max(w.objectWidth, len(v.Children))
	}
	for _, c := range v.Children {
		w.widestObject(c.Value)
	}
}

// fragment measures a named fragment once; def may be nil before validation.
func (w *Walker) fragment(name string, def *ast.FragmentDefinition) Measure {
	if fm, ok := w.memo[name]; ok {
		return fm.m // a fragment in a cycle (still being measured) contributes nothing yet
	}
	if def == nil && w.Doc != nil {
		def = w.Doc.Fragments.ForName(name)
	}
	if def == nil {
		if w.MissingFragment != nil {
			w.MissingFragment(name)
		}
		return Measure{}
	}
	if w.memo == nil {
		w.memo = map[string]*fragmentMeasure{}
	}
	fm := &fragmentMeasure{def: def}
	w.memo[name] = fm
	fm.m = w.definition(def)
	return fm.m
}

func (w *Walker) definition(def *ast.FragmentDefinition) Measure {
	parent := def.Definition
	if parent == nil && w.Schema != nil {
		parent = w.Schema.Types[def.TypeCondition]
	}
	return w.Set(parent, def.SelectionSet)
}

func (w *Walker) typeCondition(parent *ast.Definition, name string) *ast.Definition {
	if name == "" || w.Schema == nil {
		return parent
	}
	return w.Schema.Types[name]
}

func (w *Walker) rootType(op ast.Operation) *ast.Definition {
	if w.Schema == nil {
		return nil
	}
	switch op {
	case ast.Mutation:
		return w.Schema.Mutation
	case ast.Subscription:
		return w.Schema.Subscription
	}
	return w.Schema.Query
}

// length is the multiplier of a field's children.
func (w *Walker) length(f Field) int {
	l, ok := w.Lists[f.Coordinate()]
	if !ok {
		return 1
	}
	if l.PageArg != "" {
		if arg := f.Node.Arguments.ForName(l.PageArg); arg != nil && arg.Value != nil {
			if n := w.intValue(arg.Value); n > 0 {
				return n
			}
		}
	}
	return l.Length
}

func (w *Walker) intValue(v *ast.Value) int {
	var raw any = v.Raw
	if v.Kind == ast.Variable {
		raw = w.Vars[v.Raw]
	} else if v.Kind != ast.IntValue {
		return 0
	}
	switch n := raw.(type) {
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return Saturated // an integer too large to read is too large
		}
		return clamp(i)
	case int:
		return clamp(int64(n))
	case int64:
		return clamp(n)
	case float64:
		if n >= Saturated {
			return Saturated
		}
		return int(n)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return clamp(i)
		}
		if f, err := n.Float64(); err == nil && f < Saturated {
			return int(f)
		}
		return Saturated
	}
	return 0
}

func clamp(i int64) int {
	if i > Saturated {
		return Saturated
	}
	return int(i)
}

func add(a, b int) int { return min(a+b, Saturated) }

func mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > Saturated/b {
		return Saturated
	}
	return a * b
}

// Document is the measure of a whole document, every operation and every fragment definition
// (used or not), as validation will see it.
type Document struct {
	// Worst holds, measure by measure, the maximum over the document's operations and
	// fragment definitions.
	Worst Measure
	// TotalComplexity sums the complexity of every operation: validation walks each of them.
	TotalComplexity int
	// Widest is the most fields one selection set collects at its own level.
	Widest int
	// WidestObject is the most fields one input object literal of the document has
	// (arguments and variable defaults).
	WidestObject int
	// Operations counts the operations.
	Operations int
	// Spreads counts the fragment spreads written in the document: validation compares the
	// fragments each selection set reaches, in time quadratic in them.
	Spreads int
	// Variables is the largest number of variables one operation defines (validation matches
	// every use against every definition).
	Variables int
}

// Document measures a parsed (not necessarily validated) document in one linear walk. The
// walker's Doc is set to doc.
func (w *Walker) Document(doc *ast.QueryDocument) Document {
	w.Doc = doc
	var d Document
	worst := func(m Measure) {
		d.Worst.Depth = max(d.Worst.Depth, m.Depth)
		d.Worst.Aliases = max(d.Worst.Aliases, m.Aliases)
		d.Worst.Fields = max(d.Worst.Fields, m.Fields)
		d.Worst.Complexity = max(d.Worst.Complexity, m.Complexity)
	}
	for _, op := range doc.Operations {
		m := w.Operation(op)
		worst(m)
		d.TotalComplexity = add(d.TotalComplexity, m.Complexity)
		d.Operations++
		d.Variables = max(d.Variables, len(op.VariableDefinitions))
		for _, v := range op.VariableDefinitions {
			w.widestObject(v.DefaultValue)
		}
	}
	for _, f := range doc.Fragments {
		m := w.fragment(f.Name, f)
		if fm := w.memo[f.Name]; fm != nil && fm.def != f {
			m = w.definition(f) // a second fragment of the same name: validation reads it too
		}
		m.Fields = 0 // a fragment's own level is not an operation's root
		worst(m)
	}
	d.Widest, d.WidestObject, d.Spreads = w.widest, w.objectWidth, w.spreads
	return d
}

// Overlaps counts the pairs of fields that validation's OverlappingFieldsCanBeMerged rule
// compares in an operation: fields with the same response name at the same place of the
// merged response (through fragments and inline fragments), at every level. The rule's time
// grows with this number — quadratic in repeated fields, exponential in repeated nested ones —
// so a document is refused on it before validation. The count expands fragments where they
// are spread (as the rule does) and stops early, returning a number above both limits, once it
// has met more than nodeBudget fields or more than pairLimit pairs; it is therefore bounded by
// the budget whatever the document.
func (w *Walker) Overlaps(op *ast.OperationDefinition, nodeBudget, pairLimit int) int {
	o := overlaps{w: w, budget: nodeBudget, limit: pairLimit}
	o.group([]ast.SelectionSet{op.SelectionSet})
	return o.pairs
}

type overlaps struct {
	w             *Walker
	budget, limit int
	pairs         int
}

func (o *overlaps) over() bool { return o.budget < 0 || o.pairs > o.limit }

// group counts the pairs among the fields that the sets, merged, select; then recurses into the
// merged children of each response name.
func (o *overlaps) group(sets []ast.SelectionSet) {
	var keys []string
	children := map[string][]ast.SelectionSet{}
	counts := map[string]int{}
	for _, set := range sets {
		o.collect(set, map[string]bool{}, func(f *ast.Field) {
			key := f.Alias
			if key == "" {
				key = f.Name
			}
			if counts[key] == 0 {
				keys = append(keys, key)
			}
			counts[key]++
			if len(f.SelectionSet) > 0 {
				children[key] = append(children[key], f.SelectionSet)
			}
		})
		if o.over() {
			o.pairs = Saturated
			return
		}
	}
	for _, key := range keys {
		n := counts[key]
		o.pairs = add(o.pairs, n*(n-1)/2)
		if o.over() {
			o.pairs = Saturated
			return
		}
	}
	for _, key := range keys {
		if len(children[key]) > 0 {
			o.group(children[key])
			if o.over() {
				return
			}
		}
	}
}

// collect calls fn for every field a set collects at its own level; a fragment spread twice in
// one set is collected once.
func (o *overlaps) collect(set ast.SelectionSet, spread map[string]bool, fn func(*ast.Field)) {
	for _, sel := range set {
		if o.budget--; o.budget < 0 {
			return
		}
		switch x := sel.(type) {
		case *ast.Field:
			fn(x)
		case *ast.InlineFragment:
			o.collect(x.SelectionSet, spread, fn)
		case *ast.FragmentSpread:
			if spread[x.Name] {
				continue
			}
			spread[x.Name] = true
			def := x.Definition
			if def == nil && o.w.Doc != nil {
				def = o.w.Doc.Fragments.ForName(x.Name)
			}
			if def != nil {
				o.collect(def.SelectionSet, spread, fn)
			}
		}
	}
}
