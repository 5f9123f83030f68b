package store

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/model"
)

// cardDocuments are a person, a detention record of three periods and a criminal record of
// two convictions, as stored: what one person card decodes.
func cardDocuments(t testing.TB) []bson.Raw {
	d := model.MustDate
	ptr := func(s string) *string { return &s }
	end1, end2 := d("2017-06-15"), d("2019-02-01")
	person := model.Person{ID: "P-1", GivenNames: "Jan", FamilyName: "Novák", DateOfBirth: d("1980-01-15"), Sex: model.SexMale,
		Nationalities: []string{"CZ"}, NationalID: ptr("800115/2346"), PlaceOfBirth: &model.Place{City: "Praha", Country: "CZ"},
		Residence: &model.Address{Street: "Dlouhá 1", City: "Praha", PostalCode: "110 00", Country: "CZ"}, PreviousNames: []model.PreviousName{}, Version: 1}
	authority := &model.Authority{Kind: model.AuthorityKindCourt, Name: "Obvodní soud", CaseReference: ptr("3 T 87/2014")}
	det := model.DetentionRecord{PersonID: "P-1", Version: 1, Periods: []model.DetentionPeriod{
		{ID: "D-1", Kind: model.DetentionKindImprisonment, Start: d("2015-02-01"), End: &end1, PrisonID: "PRS-1", ResponsibleAuthority: authority, SentenceID: ptr("S-1"), ReleaseReason: ptr2(model.ReleaseReasonTransfer)},
		{ID: "D-2", Kind: model.DetentionKindImprisonment, Start: d("2017-06-15"), End: &end2, PrisonID: "PRS-2", ResponsibleAuthority: authority, SentenceID: ptr("S-1"), ReleaseReason: ptr2(model.ReleaseReasonSentenceServed)},
		{ID: "D-3", Kind: model.DetentionKindCustody, Start: d("2026-09-01"), PrisonID: "PRS-3", ResponsibleAuthority: authority},
	}}
	conviction := func(id string) model.Conviction {
		return model.Conviction{ID: id, Court: "Obvodní soud pro Prahu 4", CaseReference: "3 T 87/2014", DecisionDate: d("2014-11-20"), FinalDate: d("2014-12-10"),
			Offences: []model.Offence{{LegalProvision: "§ 205 odst. 1 TZ", Description: "krádež", Category: "0801 00", Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: true}},
			Sentences: []model.Sentence{{ID: "S" + id[1:], Kind: model.SentenceKindImprisonment, Status: model.SentenceStatusServed, StartDate: &end1, EndDate: &end2,
				Transitions: []model.SentenceTransition{{Status: model.SentenceStatusBeingServed, On: d("2015-02-01")}, {Status: model.SentenceStatusServed, On: d("2019-02-01")}}}}}
	}
	rec := model.CriminalRecord{PersonID: "P-1", Version: 1, Convictions: []model.Conviction{conviction("C-1"), conviction("C-2")}, ExpungedConvictions: []model.Conviction{}}
	var out []bson.Raw
	for _, doc := range []any{person, det, rec} {
		b, err := bson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func ptr2[T any](v T) *T { return &v }

// TestDecodeRawRefusesWhatNoWriteProduces: the documents custodia writes decode; one value
// no write produces — in a nested list, behind a pointer, or missing where required — is a
// *CorruptError naming the field, also under a projection when the value is present.
func TestDecodeRawRefusesWhatNoWriteProduces(t *testing.T) {
	docs := cardDocuments(t)
	edit := func(raw bson.Raw, key string, value any) bson.Raw {
		var d bson.D
		if err := bson.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		out := bson.D{}
		for _, e := range d {
			if e.Key != key {
				out = append(out, e)
			}
		}
		if value != nil {
			out = append(out, bson.E{Key: key, Value: value})
		}
		b, _ := bson.Marshal(out)
		return b
	}
	cases := []struct {
		name  string
		raw   bson.Raw
		into  func() any
		whole bool
		field string // "" when the document is valid
	}{
		{"a person as written", docs[0], func() any { return &model.Person{} }, true, ""},
		{"a detention record as written", docs[1], func() any { return &model.DetentionRecord{} }, true, ""},
		{"a criminal record as written", docs[2], func() any { return &model.CriminalRecord{} }, true, ""},
		{"an unknown sex", edit(docs[0], "sex", "ALIEN"), func() any { return &model.Person{} }, true, "sex"},
		{"no date of birth", edit(docs[0], "dateOfBirth", nil), func() any { return &model.Person{} }, true, "dateOfBirth"},
		{"no date of birth under an inclusion projection", edit(docs[0], "dateOfBirth", nil), func() any { return &model.Person{} }, false, ""},
		{"a malformed date under an inclusion projection", edit(docs[0], "dateOfBirth", "1980-02-30"), func() any { return &model.Person{} }, false, "dateOfBirth"},
		{"an unknown release reason behind a pointer", edit(docs[1], "periods", bson.A{bson.D{{Key: "id", Value: "D-1"}, {Key: "kind", Value: "CUSTODY"}, {Key: "start", Value: "2020-01-01"}, {Key: "prisonId", Value: "P"}, {Key: "releaseReason", Value: "ESCAPE"}}}),
			func() any { return &model.DetentionRecord{} }, true, "periods[0].releaseReason"},
		{"two open periods", edit(docs[1], "periods", bson.A{bson.D{{Key: "id", Value: "D-1"}, {Key: "kind", Value: "CUSTODY"}, {Key: "start", Value: "2020-01-01"}, {Key: "prisonId", Value: "P"}},
			bson.D{{Key: "id", Value: "D-2"}, {Key: "kind", Value: "CUSTODY"}, {Key: "start", Value: "2021-01-01"}, {Key: "prisonId", Value: "P"}}}),
			func() any { return &model.DetentionRecord{} }, true, "periods"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := decodeRaw(c.raw, c.into(), c.whole)
			var ce *CorruptError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.field != "" && (!errors.As(err, &ce) || ce.Field != c.field || ce.ID != "P-1"):
				t.Fatalf("want the field %s of P-1 named, got %v", c.field, err)
			}
		})
	}
}

// BenchmarkDecodeCard decodes the documents of one person card, unchecked (bson.Unmarshal)
// and checked (decodeRaw), to show what the check costs.
func BenchmarkDecodeCard(b *testing.B) {
	docs := cardDocuments(b)
	into := []func() any{func() any { return &model.Person{} }, func() any { return &model.DetentionRecord{} }, func() any { return &model.CriminalRecord{} }}
	for _, checked := range []bool{false, true} {
		name := "unchecked"
		if checked {
			name = "checked"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for j, raw := range docs {
					v := into[j]()
					var err error
					if checked {
						err = decodeRaw(raw, v, true)
					} else {
						err = bson.Unmarshal(raw, v)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
