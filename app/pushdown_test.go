package app_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// growingCollections are the collections that grow with the register or with its use: on an
// engine that serves only {_id: <string>} from an index (FerretDB v1), any other filter on
// them reads every document. The small ones (meta, auditMeta, prisons, auditCheckpoints,
// eventCallbacks) may keep compound filters; the lists read page by page (grant lists, audit
// pages other than one person's) are not on the point-lookup path checked here. The event
// log's tail (the watch hub's poll, a resume) and a person's audit entries (the recipients of
// a correction or blocking) are: they are read through eventBuckets and auditPersons.
var growingCollections = []string{"persons", "records", "detentions", "nationalIds", "searchKeys",
	"idempotency", "events", "eventKeys", "eventBuckets", "audit", "auditPersons", "grants", "grantEvents"}

// knownScans are the filters on growing collections still sent with other keys than _id,
// each with the reason (collection and filter keys, in order). Shrink it; never grow it.
var knownScans = map[string]string{}

// filterKeys names a filter by its collection and keys, as knownScans does.
func filterKeys(f sentFilter) string {
	elems, _ := f.filter.Elements()
	keys := make([]string, len(elems))
	for i, e := range elems {
		keys[i] = e.Key()
	}
	return f.collection + " " + strings.Join(keys, ",")
}

// sentFilter is one filter a command sent to the database.
type sentFilter struct {
	command, collection string
	filter              bson.Raw
}

// filtersOf returns the filters of a command document: find's filter, each update's and
// delete's q, count's query, findAndModify's query and the first $match of an aggregate
// (countDocuments).
func filtersOf(t *testing.T, name string, doc bson.Raw) []sentFilter {
	t.Helper()
	collection, _ := doc.Index(0).Value().StringValueOK()
	docAt := func(key string) bson.Raw {
		v, err := doc.LookupErr(key)
		if err != nil {
			return nil
		}
		d, _ := v.DocumentOK()
		return d
	}
	var out []sentFilter
	add := func(f bson.Raw) {
		if f == nil {
			f = bson.Raw(bsonEmpty)
		}
		out = append(out, sentFilter{name, collection, f})
	}
	each := func(listKey, key string) {
		v, err := doc.LookupErr(listKey)
		if err != nil {
			return // a document sequence the monitor does not show would be a test bug
		}
		values, _ := v.Array().Values()
		for _, e := range values {
			q, _ := e.Document().LookupErr(key)
			d, _ := q.DocumentOK()
			add(d)
		}
	}
	switch name {
	case "find":
		add(docAt("filter"))
	case "count", "findAndModify":
		add(docAt("query"))
	case "update":
		each("updates", "q")
	case "delete":
		each("deletes", "q")
	case "aggregate":
		v, err := doc.LookupErr("pipeline")
		if err != nil {
			break
		}
		stages, _ := v.Array().Values()
		if len(stages) > 0 {
			if m, err := stages[0].Document().LookupErr("$match"); err == nil {
				add(m.Document())
			} else {
				add(nil)
			}
		}
	case "distinct":
		add(docAt("query"))
	}
	return out
}

var bsonEmpty, _ = bson.Marshal(bson.D{})

// isIDEquality says a filter is exactly {_id: <string>}: what FerretDB v1 serves from its index.
func isIDEquality(f bson.Raw) bool {
	elems, err := f.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != "_id" {
		return false
	}
	_, ok := elems[0].Value().StringValueOK()
	return ok
}

// TestGrowingCollectionsAreReadByIDOnly records every command the API sends, on the
// point-lookup path (an engine that serves only {_id: <string>} from an index), while it
// serves representative reads — the card, a search page and a detention status, for a court
// (blocked persons hidden) and for the register office — and representative writes: a
// registration, an identity update with a new national ID, an admission and a release, a
// correction and a blocking (each naming the recipients to notify from the person's audit
// entries), and an access request with its approval — while a watch subscription makes the
// hub poll the event log's tail, and a second one resumes after an event; the auditor's export
// and trail (without a person) and the start-up retention purge (with nothing to remove, then
// removing the log so far) read and change the audit log. Every filter on a
// collection that grows with the register or its use must be exactly {_id: <string>};
// anything else reads the whole collection on the embedded engine.
func TestGrowingCollectionsAreReadByIDOnly(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sent []sentFilter
	recording := false
	env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) {
		c.BatchLoads = "point-lookups" // the scanning engine's path, whatever the engine
		c.OnDBCommandDocument = func(name string, command []byte) {
			doc := bson.Raw(slices.Clone(command))
			mu.Lock()
			defer mu.Unlock()
			if recording {
				sent = append(sent, filtersOf(t, name, doc)...)
			}
		}
	}})
	mu.Lock()
	recording = true
	mu.Unlock()
	// A subscriber: the hub polls the event log's tail every 200 ms while the test runs.
	watchVars := map[string]any{"id": seed.NamedHorvath, "p": testenv.Purpose(model.RoleProsecutor)}
	watcher := env.SubscribeWS(env.Token(model.RoleProsecutor), watchPerson, watchVars)
	defer watcher.Close()

	page := `query($p: PurposeInput!) { searchPersons(filter: {familyName: "novak", dateOfBirth: "1980-01-15"}, first: 50, purpose: $p) {
	  edges { node { id familyName convictions { id sentences { id } } detentionHistory { id prison { id } } detentionStatus { deprivedOfLiberty } } } } }`
	byNationalID := `query($p: PurposeInput!) { personByNationalId(nationalId: "755630/4129", purpose: $p) { id } }`
	for _, role := range []model.Role{model.RoleCourt, model.RoleRegistrar} {
		purpose := testenv.Purpose(role)
		env.MustData(role, personCard, map[string]any{"id": seed.NamedNovak, "purpose": purpose, "copy": false})
		env.MustData(role, page, map[string]any{"p": purpose})
		env.MustData(role, statusQuery, map[string]any{"pid": seed.NamedDvorakova, "p": purpose})
		env.MustData(role, byNationalID, map[string]any{"p": purpose})
	}

	// Writes: a registration and an update that changes the national ID (claims the new
	// number, releases the old one).
	nid, nid2 := validBirthNumber(141), validBirthNumber(142)
	created := env.MustData(RG, registerPerson, map[string]any{"in": personInput(nid), "key": "pushdown-register", "p": registrarPurpose()})
	id := testenv.Path(created, "registerPerson", "id").(string)
	const update = `mutation($id: ID!, $v: Int!, $in: PersonInput!, $key: String!, $p: PurposeInput!) {
	  updatePerson(id: $id, version: $v, input: $in, idempotencyKey: $key, purpose: $p) { version } }`
	env.MustData(RG, update, map[string]any{"id": id, "v": 1, "in": personInput(nid2), "key": "pushdown-update", "p": registrarPurpose()})
	// An admission and a release.
	ps := testenv.Purpose(PS)
	env.MustData(PS, admitQuery, map[string]any{"pid": seed.NamedHorvath, "in": custody("PRS-BRNO-VV", "2026-10-15"), "k": "pushdown-admit", "p": ps})
	admitted := event(t, watcher.Next(5*time.Second))
	env.MustData(PS, releaseQuery, map[string]any{"pid": seed.NamedHorvath, "in": map[string]any{"date": "2026-10-30", "reason": "CUSTODY_ENDED"}, "k": "pushdown-release", "p": ps})
	// A correction, by a court.
	convIn := map[string]any{"court": "Obvodní soud pro Prahu 4", "caseReference": "3 T 87/2014-B", "decisionDate": "2014-11-20", "finalDate": "2015-01-12"}
	answer(t, env, C, "correctConviction", correctConvictionMutation, map[string]any{"pid": seed.NamedNovak, "cid": "C-000001-1", "in": convIn,
		"r": "Chybně opsaná spisová značka", "k": "pushdown-correct", "p": testenv.Purpose(C)})
	// A blocking, then the court's reads of the blocked person.
	block(t, env, true, "pushdown-block", seed.NamedDvorakova, model.RecordItemKindPerson, "")
	wantCode(t, env.As(C, statusQuery, map[string]any{"pid": seed.NamedDvorakova, "p": testenv.Purpose(C)}), "NOT_FOUND")
	// An access request and its approval.
	newbie := env.TokenFor(officer("pcr-pushdown", "Petr Nový"), time.Hour)
	req := call(t, env, newbie, `mutation { requestAccess(input: {justification: "Nový vyšetřovatel"}) { id } }`, nil)
	call(t, env, env.Token(model.RolePolice), `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`,
		map[string]any{"id": testenv.Path(req, "requestAccess", "id")})

	// The auditor's export, a page in the middle of the log and the first one, and the
	// retention purge an instance runs at start-up (nothing is old enough to remove).
	env.MustData(model.RoleAuditor, `{ auditExport(afterSequence: 3, first: 5) { lines hasMore } }`, nil)
	env.MustData(model.RoleAuditor, `{ auditExport(first: 2) { lines hasMore } }`, nil)
	env.MustData(model.RoleAuditor, `{ auditTrail(first: 5) { edges { node { sequence } } }
	  byAgency: auditTrail(filter: {agency: "Policie České republiky", from: "2026-01-01T00:00:00Z"}, first: 5) { edges { node { sequence } } } }`, nil)
	if _, err := env.Server.Trail.Purge(context.Background(), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	// And a purge that removes: a retention that every entry so far has passed, as an
	// instance started after the retention period finds it.
	if n, err := env.Server.Trail.Purge(context.Background(), -time.Second); err != nil || n == 0 {
		t.Fatalf("purge of every entry so far: %d removed, %v", n, err)
	}

	// A resume after the admission: the log after a cursor, then the release.
	watchVars["after"] = admitted.ID
	resumed := env.SubscribeSSE(env.Token(model.RoleProsecutor), watchPerson, watchVars)
	if e := event(t, resumed.Next(5*time.Second)); e.Kind != "RELEASED" {
		t.Fatalf("resumed after the admission with %+v, want the release", e)
	}
	resumed.Close()
	time.Sleep(500 * time.Millisecond) // the hub polls at least twice more

	mu.Lock()
	defer mu.Unlock()
	checked := 0
	seen := map[string]bool{}
	for _, f := range sent {
		if !slices.Contains(growingCollections, f.collection) {
			continue
		}
		checked++
		seen[f.command+" "+f.collection] = true
		if _, known := knownScans[filterKeys(f)]; known {
			continue
		}
		if !isIDEquality(f.filter) {
			t.Errorf("%s on %s with filter %s: not exactly {_id: <string>}, so the embedded engine reads the whole collection", f.command, f.collection, f.filter)
		}
	}
	for _, c := range []string{"find eventBuckets", "find auditPersons"} {
		if !seen[c] {
			t.Errorf("no %s recorded: the event log's tail or a person's audit entries were not read through it", c)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d filters on growing collections recorded: the recording does not see the requests' commands", checked)
	}
	t.Logf("%d filters on growing collections, %d commands with filters in all", checked, len(sent))
}
