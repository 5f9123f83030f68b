package register

import (
	"testing"

	"custodia/model"
)

func period(kind model.DetentionKind, prison, start, end string) model.DetentionPeriod {
	p := model.DetentionPeriod{ID: prison + start, Kind: kind, PrisonID: prison, Start: model.MustDate(start)}
	if end != "" {
		e := model.MustDate(end)
		p.End = &e
	}
	return p
}

func TestStatus(t *testing.T) {
	today := model.MustDate("2026-11-01")
	cases := []struct {
		name          string
		periods       []model.DetentionPeriod
		deprived      bool
		kind          model.DetentionKind
		since, prison string
		inPrisonSince string
	}{
		{name: "no periods"},
		{name: "only ended periods", periods: []model.DetentionPeriod{
			period(model.DetentionKindImprisonment, "A", "2015-02-01", "2017-06-15"),
			period(model.DetentionKindImprisonment, "B", "2017-06-15", "2019-02-01"),
		}},
		{name: "ended today is free", periods: []model.DetentionPeriod{period(model.DetentionKindCustody, "A", "2026-10-01", "2026-11-01")}},
		{name: "starts tomorrow is not yet", periods: []model.DetentionPeriod{period(model.DetentionKindCustody, "A", "2026-11-02", "")}},
		{name: "open period", deprived: true, kind: model.DetentionKindCustody, since: "2026-09-01", prison: "P", inPrisonSince: "2026-09-01",
			periods: []model.DetentionPeriod{period(model.DetentionKindCustody, "P", "2026-09-01", "")}},
		{name: "started today", deprived: true, kind: model.DetentionKindCustody, since: "2026-11-01", prison: "P", inPrisonSince: "2026-11-01",
			periods: []model.DetentionPeriod{period(model.DetentionKindCustody, "P", "2026-11-01", "")}},
		{name: "transfer on the same day keeps since", deprived: true, kind: model.DetentionKindImprisonment, since: "2023-05-10", prison: "B", inPrisonSince: "2025-02-01",
			periods: []model.DetentionPeriod{
				period(model.DetentionKindImprisonment, "A", "2023-05-10", "2025-02-01"),
				period(model.DetentionKindImprisonment, "B", "2025-02-01", ""),
			}},
		{name: "transfer today", deprived: true, kind: model.DetentionKindImprisonment, since: "2023-05-10", prison: "B", inPrisonSince: "2026-11-01",
			periods: []model.DetentionPeriod{
				period(model.DetentionKindImprisonment, "A", "2023-05-10", "2026-11-01"),
				period(model.DetentionKindImprisonment, "B", "2026-11-01", ""),
			}},
		{name: "custody turns into imprisonment in the same prison", deprived: true, kind: model.DetentionKindImprisonment, since: "2025-01-10", prison: "A", inPrisonSince: "2025-01-10",
			periods: []model.DetentionPeriod{
				period(model.DetentionKindCustody, "A", "2025-01-10", "2025-06-01"),
				period(model.DetentionKindImprisonment, "A", "2025-06-01", ""),
			}},
		{name: "a gap interrupts since", deprived: true, kind: model.DetentionKindCustody, since: "2026-09-01", prison: "A", inPrisonSince: "2026-09-01",
			periods: []model.DetentionPeriod{
				period(model.DetentionKindImprisonment, "B", "2015-02-01", "2019-02-01"),
				period(model.DetentionKindCustody, "A", "2026-09-01", ""),
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Status(c.periods, today)
			if got.DeprivedOfLiberty != c.deprived {
				t.Fatalf("deprived: got %v, want %v", got.DeprivedOfLiberty, c.deprived)
			}
			if !c.deprived {
				if got.Kind != nil || got.Since != nil || got.PrisonID != nil {
					t.Errorf("a free person has no kind, since or prison: %+v", got)
				}
				return
			}
			if *got.Kind != c.kind || string(*got.Since) != c.since || *got.PrisonID != c.prison || string(*got.InPrisonSince) != c.inPrisonSince {
				t.Errorf("got kind %s since %s prison %s inPrisonSince %s", *got.Kind, *got.Since, *got.PrisonID, *got.InPrisonSince)
			}
		})
	}
}

func TestHistoryNewestFirst(t *testing.T) {
	periods := []model.DetentionPeriod{
		period(model.DetentionKindImprisonment, "A", "2015-02-01", "2017-06-15"),
		period(model.DetentionKindCustody, "C", "2026-09-01", ""),
		period(model.DetentionKindImprisonment, "B", "2017-06-15", "2019-02-01"),
	}
	got := History(periods)
	want := []string{"C", "B", "A"}
	for i, p := range got {
		if p.PrisonID != want[i] {
			t.Fatalf("order: got %v at %d, want %v", p.PrisonID, i, want[i])
		}
	}
	if periods[0].PrisonID != "A" {
		t.Errorf("History must not reorder its input")
	}
}
