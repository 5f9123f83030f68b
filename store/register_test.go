package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"custodia/model"
)

// recordsWithEverything stores one criminal record and one detention record holding every
// kind of item: in the extract, expunged (copy only), blocked (in the extract and copy only),
// and a blocked sentence of an extract conviction.
func recordsWithEverything(t *testing.T) (*Store, string) {
	t.Helper()
	e := startEmbedded(t)
	ctx := context.Background()
	s, err := Open(ctx, Config{URI: e.URI(), Database: fmt.Sprintf("register_%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	const pid = "P-1"
	sentence := func(id string) []model.Sentence {
		return []model.Sentence{{ID: id, Kind: model.SentenceKindImprisonment, Status: model.SentenceStatusServed}}
	}
	conviction := func(id, decided string, expunged bool) model.Conviction {
		return model.Conviction{ID: id, Court: "Okresní soud", CaseReference: "ref " + id, DecisionDate: model.MustDate(decided), FinalDate: model.MustDate(decided),
			Offences:  []model.Offence{{LegalProvision: "§ 205 TZ", Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator}},
			Sentences: sentence("S" + id[1:]), Expunged: expunged}
	}
	blocked := &model.Blocking{Reason: "court order", CorrectionID: "K-1"}
	blockedCopyOnly := &model.Blocking{Reason: "court order", CorrectionID: "K-2", CopyOnly: true}
	withBlock := func(c model.Conviction) model.Conviction { c.Blocked = blocked; return c }
	rec := model.CriminalRecord{PersonID: pid, Version: 1,
		Convictions:         []model.Conviction{conviction("C-1", "2020-01-01", false), conviction("C-2", "2022-01-01", false)},
		ExpungedConvictions: []model.Conviction{conviction("C-3", "2010-01-01", true)},
		BlockedConvictions:  []model.Conviction{withBlock(conviction("C-4", "2021-01-01", false)), withBlock(conviction("C-5", "2011-01-01", true))},
		BlockedSentences:    []model.BlockedSentence{{ConvictionID: "C-1", Sentence: sentence("S-1-blocked")[0]}},
	}
	year := 2010
	period := func(id, sentenceID string, b *model.Blocking) model.DetentionPeriod {
		// One year each, one after the other: a consistent record (register.CheckPeriods).
		year++
		end := model.MustDate(fmt.Sprintf("%d-12-31", year))
		return model.DetentionPeriod{ID: id, Kind: model.DetentionKindImprisonment, Start: model.MustDate(fmt.Sprintf("%d-01-01", year)), End: &end,
			PrisonID: "PRS-1", SentenceID: &sentenceID, Blocked: b}
	}
	det := model.DetentionRecord{PersonID: pid, Version: 1,
		Periods:         []model.DetentionPeriod{period("D-1", "S-1", nil)},
		CopyOnlyPeriods: []model.DetentionPeriod{period("D-3", "S-3", nil)},
		BlockedPeriods:  []model.DetentionPeriod{period("D-4", "S-4", blocked), period("D-5", "S-5", blockedCopyOnly)},
	}
	if _, err := s.db.Collection(colRecords).InsertOne(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Collection(colDetentions).InsertOne(ctx, det); err != nil {
		t.Fatal(err)
	}
	return s, pid
}

var scopes = map[string]Scope{"blocked hidden": {HideBlocked: true}, "register office": {}}

// TestExtractReadLeavesTheCopyInTheDatabase: the read of the extract (the only read a role
// that may not see the full copy gets) brings no expunged conviction and no copy-only period
// into the process — they are projected out in the query, not filtered afterwards — and,
// unless the scope shows blocked data, no blocked item either.
func TestExtractReadLeavesTheCopyInTheDatabase(t *testing.T) {
	t.Parallel()
	s, pid := recordsWithEverything(t)
	ctx := context.Background()
	for name, scope := range scopes {
		t.Run(name, func(t *testing.T) {
			records, err := s.criminalRecords(ctx, scope, []string{pid}, false)
			if err != nil || len(records) != 1 {
				t.Fatalf("criminal record: %v %v", records, err)
			}
			r := records[0]
			if len(r.ExpungedConvictions) != 0 {
				t.Errorf("the extract read brought expunged convictions into the process: %+v", r.ExpungedConvictions)
			}
			if len(r.Convictions) != 2 {
				t.Errorf("the extract read lost convictions: %+v", r.Convictions)
			}
			if scope.HideBlocked && (len(r.BlockedConvictions) != 0 || len(r.BlockedSentences) != 0) {
				t.Errorf("blocked items read for a scope that hides them: %+v %+v", r.BlockedConvictions, r.BlockedSentences)
			}
			dets, err := s.detentionRecords(ctx, scope, []string{pid}, false)
			if err != nil || len(dets) != 1 {
				t.Fatalf("detention record: %v %v", dets, err)
			}
			if len(dets[0].CopyOnlyPeriods) != 0 {
				t.Errorf("the extract read brought copy-only periods into the process: %+v", dets[0].CopyOnlyPeriods)
			}
			if scope.HideBlocked && len(dets[0].BlockedPeriods) != 0 {
				t.Errorf("blocked periods read for a scope that hides them: %+v", dets[0].BlockedPeriods)
			}
		})
	}
}

// TestCopyAndExtractFromOneRead: the copy and the extract derived from one read of the copy
// are exactly what the two reads of each give, for every scope, and neither shares memory
// with the other (filling in one does not change the other).
func TestCopyAndExtractFromOneRead(t *testing.T) {
	t.Parallel()
	s, pid := recordsWithEverything(t)
	ctx := context.Background()
	ids := []string{pid, "P-none"}
	for name, scope := range scopes {
		t.Run(name, func(t *testing.T) {
			gotCopy, gotExtract, wantCopy := sameAsTwoReads(t, "convictions", func(copy bool) (map[string][]model.Conviction, error) {
				return s.ConvictionsByPersonIDs(ctx, scope, ids, copy)
			}, func() (map[string][]model.Conviction, map[string][]model.Conviction, error) {
				return s.ConvictionsCopyAndExtract(ctx, scope, ids)
			})
			if len(gotCopy[pid]) <= len(gotExtract[pid]) || len(gotExtract[pid]) == 0 {
				t.Errorf("the copy (%d) must hold more than the extract (%d), which must not be empty", len(gotCopy[pid]), len(gotExtract[pid]))
			}
			for _, c := range gotExtract[pid] {
				if c.CopyOnly() {
					t.Errorf("expunged conviction %s in the derived extract", c.ID)
				}
				for _, sen := range c.Sentences {
					if sen.FromCopy {
						t.Errorf("sentence %s of the extract marked as read from the copy", sen.ID)
					}
				}
			}
			if len(gotExtract[pid]) > 0 && len(gotExtract[pid][0].Sentences) > 0 {
				gotExtract[pid][0].Sentences[0].ID = "changed"
				if !reflect.DeepEqual(gotCopy, wantCopy) {
					t.Error("the derived extract shares its sentences with the copy")
				}
			}

			gotDetCopy, gotDetExtract, _ := sameAsTwoReads(t, "detentions", func(copy bool) (map[string]*model.DetentionRecord, error) {
				return s.DetentionsByPersonIDs(ctx, scope, ids, copy)
			}, func() (map[string]*model.DetentionRecord, map[string]*model.DetentionRecord, error) {
				return s.DetentionsCopyAndExtract(ctx, scope, ids)
			})
			for _, q := range gotDetExtract[pid].Periods {
				if q.FromCopy || q.ID == "D-3" || q.ID == "D-5" {
					t.Errorf("copy-only period %s in the derived extract", q.ID)
				}
			}
			if len(gotDetCopy[pid].Periods) <= len(gotDetExtract[pid].Periods) {
				t.Errorf("the copy (%d periods) must hold more than the extract (%d)", len(gotDetCopy[pid].Periods), len(gotDetExtract[pid].Periods))
			}
		})
	}
}

// sameAsTwoReads checks that the copy and the extract of one read (both) equal what the read
// of each (read) gives, and returns them and the copy as read alone.
func sameAsTwoReads[V any](t *testing.T, what string, read func(copy bool) (map[string]V, error), both func() (map[string]V, map[string]V, error)) (gotCopy, gotExtract, wantCopy map[string]V) {
	t.Helper()
	wantCopy, err := read(true)
	if err != nil {
		t.Fatal(err)
	}
	wantExtract, err := read(false)
	if err != nil {
		t.Fatal(err)
	}
	if gotCopy, gotExtract, err = both(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotCopy, wantCopy) || !reflect.DeepEqual(gotExtract, wantExtract) {
		t.Errorf("%s from one read:\ncopy    %+v\nwant    %+v\nextract %+v\nwant    %+v", what, gotCopy, wantCopy, gotExtract, wantExtract)
	}
	return gotCopy, gotExtract, wantCopy
}
