package seed

import "custodia/model"

// The named persons of DESIGN §10; their IDs are stable.
const (
	NamedNovak     = "P-000001"
	NamedDvorakova = "P-000002"
	NamedSvoboda   = "P-000003"
	NamedFerreira  = "P-000004"
	NamedHorvath   = "P-000005"
)

// story is one person with everything the register holds about them.
type story struct {
	person      model.Person
	convictions []model.Conviction
	periods     []model.DetentionPeriod
}

func ptr[T any](v T) *T { return &v }

func d(s string) model.Date { return model.MustDate(s) }

func dp(s string) *model.Date { return ptr(d(s)) }

func namedPersons() []story {
	return []story{
		{
			// In CUSTODY since 2026-09-01 (prosecution office case 1 KZV 245/2026); served four
			// years' imprisonment 2015–2019 in two prisons (one transfer); not expunged.
			person: model.Person{ID: NamedNovak, GivenNames: "Jan", FamilyName: "Novák", DateOfBirth: d("1980-01-15"),
				PlaceOfBirth: &model.Place{City: "Praha", Country: "CZ"}, Sex: model.SexMale, Nationalities: []string{"CZ"},
				NationalID: ptr("800115/2346"), Residence: &model.Address{Street: "Husova 12", City: "Praha 1", PostalCode: "110 00", Country: "CZ"}},
			convictions: []model.Conviction{{
				ID: "C-000001-1", PersonID: NamedNovak, Court: "Obvodní soud pro Prahu 4", CaseReference: "3 T 87/2014",
				DecisionDate: d("2014-11-20"), FinalDate: d("2015-01-12"),
				Offences: []model.Offence{{LegalProvision: "§ 173 odst. 1 TZ", Description: "loupež", Category: "0803 00",
					Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: true, CommittedOn: dp("2014-03-08")}},
				Sentences: []model.Sentence{{ID: "S-000001-1-1", Kind: model.SentenceKindImprisonment, DurationMonths: ptr(48),
					StartDate: dp("2015-02-01"), EndDate: dp("2019-02-01"), Status: model.SentenceStatusServed}},
			}},
			periods: []model.DetentionPeriod{
				{ID: "D-000001-1", Kind: model.DetentionKindImprisonment, Start: d("2015-02-01"), End: dp("2017-06-15"), PrisonID: "PRS-BORY",
					ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindCourt, Name: "Obvodní soud pro Prahu 4", CaseReference: ptr("3 T 87/2014")},
					SentenceID:           ptr("S-000001-1-1"), ExpectedRelease: dp("2019-02-01"), ReleaseReason: ptr(model.ReleaseReasonTransfer)},
				{ID: "D-000001-2", Kind: model.DetentionKindImprisonment, Start: d("2017-06-15"), End: dp("2019-02-01"), PrisonID: "PRS-MIROV",
					ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindCourt, Name: "Obvodní soud pro Prahu 4", CaseReference: ptr("3 T 87/2014")},
					SentenceID:           ptr("S-000001-1-1"), ExpectedRelease: dp("2019-02-01"), ReleaseReason: ptr(model.ReleaseReasonSentenceServed)},
				{ID: "D-000001-3", Kind: model.DetentionKindCustody, Start: d("2026-09-01"), PrisonID: "PRS-PANKRAC",
					ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindProsecutionOffice, Name: "Městské státní zastupitelství v Praze", CaseReference: ptr("1 KZV 245/2026")}},
			},
		},
		{
			// Never detained; a 2010 fine for an intentional offence, expunged; a 2024 suspended
			// imprisonment, not expunged; in the demo REINTEGRATION caseload.
			person: model.Person{ID: NamedDvorakova, GivenNames: "Marie", FamilyName: "Dvořáková", BirthFamilyName: ptr("Králová"),
				PreviousNames: []model.PreviousName{{FamilyName: "Králová", UsedUntil: dp("1999-05-22")}},
				DateOfBirth:   d("1975-06-30"), PlaceOfBirth: &model.Place{City: "Brno", Country: "CZ"}, Sex: model.SexFemale, Nationalities: []string{"CZ"},
				NationalID: ptr("755630/4129"), Residence: &model.Address{Street: "Lipová 8", City: "Brno", PostalCode: "602 00", Country: "CZ"}},
			convictions: []model.Conviction{
				{ID: "C-000002-1", PersonID: NamedDvorakova, Court: "Městský soud v Brně", CaseReference: "12 T 140/2010",
					DecisionDate: d("2010-04-14"), FinalDate: d("2010-05-03"),
					Offences: []model.Offence{{LegalProvision: "§ 205 odst. 1 TZ", Description: "krádež", Category: "0801 00",
						Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: true, CommittedOn: dp("2010-01-19")}},
					Sentences: []model.Sentence{{ID: "S-000002-1-1", Kind: model.SentenceKindFine, Amount: &model.Money{Amount: "15000.00", Currency: "CZK"},
						StartDate: dp("2010-05-03"), EndDate: dp("2010-06-30"), Status: model.SentenceStatusServed}},
					// paid 2010-06-30; §105(1)(e) one year: a court could expunge from 2011-06-30
					Expunged: true, ExpungedOn: dp("2011-09-12"),
					Expungement: &model.Expungement{On: d("2011-09-12"), Court: ptr("Městský soud v Brně"), CaseReference: ptr("12 Nt 301/2011")}},
				{ID: "C-000002-2", PersonID: NamedDvorakova, Court: "Městský soud v Brně", CaseReference: "8 T 52/2024",
					DecisionDate: d("2024-03-18"), FinalDate: d("2024-04-20"),
					Offences: []model.Offence{{LegalProvision: "§ 209 odst. 1 TZ", Description: "podvod", Category: "0804 00",
						Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: true, CommittedOn: dp("2023-08-02")}},
					Sentences: []model.Sentence{{ID: "S-000002-2-1", Kind: model.SentenceKindSuspendedImprisonment, DurationMonths: ptr(12),
						Suspended: true, ProbationMonths: ptr(36), StartDate: dp("2024-04-20"), Status: model.SentenceStatusInProbation}}},
			},
		},
		{
			// Serving six years' IMPRISONMENT since 2023-05-10, transferred on 2025-02-01.
			person: model.Person{ID: NamedSvoboda, GivenNames: "Petr", FamilyName: "Svoboda", DateOfBirth: d("1990-03-02"),
				PlaceOfBirth: &model.Place{City: "Hradec Králové", Country: "CZ"}, Sex: model.SexMale, Nationalities: []string{"CZ"},
				NationalID: ptr("900302/3326"), Residence: &model.Address{Street: "Palackého 3", City: "Hradec Králové", PostalCode: "500 02", Country: "CZ"}},
			convictions: []model.Conviction{{
				ID: "C-000003-1", PersonID: NamedSvoboda, Court: "Krajský soud v Hradci Králové", CaseReference: "5 T 12/2023",
				DecisionDate: d("2023-02-28"), FinalDate: d("2023-04-12"),
				Offences: []model.Offence{{LegalProvision: "§ 283 odst. 1 TZ", Description: "nedovolená výroba a jiné nakládání s omamnými a psychotropními látkami", Category: "0701 00",
					Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: true, CommittedOn: dp("2022-06-30")}},
				Sentences: []model.Sentence{{ID: "S-000003-1-1", Kind: model.SentenceKindImprisonment, DurationMonths: ptr(72),
					StartDate: dp("2023-05-10"), Status: model.SentenceStatusBeingServed}},
			}},
			periods: []model.DetentionPeriod{
				{ID: "D-000003-1", Kind: model.DetentionKindImprisonment, Start: d("2023-05-10"), End: dp("2025-02-01"), PrisonID: "PRS-VALDICE",
					ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindCourt, Name: "Krajský soud v Hradci Králové", CaseReference: ptr("5 T 12/2023")},
					SentenceID:           ptr("S-000003-1-1"), ExpectedRelease: dp("2029-05-10"), ReleaseReason: ptr(model.ReleaseReasonTransfer)},
				{ID: "D-000003-2", Kind: model.DetentionKindImprisonment, Start: d("2025-02-01"), PrisonID: "PRS-KURIM",
					ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindCourt, Name: "Krajský soud v Hradci Králové", CaseReference: ptr("5 T 12/2023")},
					SentenceID:           ptr("S-000003-1-1"), ExpectedRelease: dp("2029-05-10")},
			},
		},
		{
			// Portuguese national without a national ID; in SECURITY_DETENTION since 2025-07-01.
			person: model.Person{ID: NamedFerreira, GivenNames: "Ana", FamilyName: "Ferreira", DateOfBirth: d("1988-11-11"),
				PlaceOfBirth: &model.Place{City: "Porto", Country: "PT"}, Sex: model.SexFemale, Nationalities: []string{"PT"}},
			convictions: []model.Conviction{{
				ID: "C-000004-1", PersonID: NamedFerreira, Court: "Krajský soud v Brně", CaseReference: "46 T 3/2024",
				DecisionDate: d("2025-04-16"), FinalDate: d("2025-06-02"),
				Offences: []model.Offence{{LegalProvision: "§ 145 odst. 1 TZ", Description: "těžké ublížení na zdraví", Category: "0302 00",
					Completion: model.OffenceCompletionAttempted, Participation: model.ParticipationPerpetrator, Intentional: true, CommittedOn: dp("2024-01-27")}},
				Sentences: []model.Sentence{{ID: "S-000004-1-1", Kind: model.SentenceKindProtectiveMeasure, StartDate: dp("2025-07-01"), Status: model.SentenceStatusBeingServed}},
			}},
			periods: []model.DetentionPeriod{
				{ID: "D-000004-1", Kind: model.DetentionKindSecurityDetention, Start: d("2025-07-01"), PrisonID: "PRS-DETENCE-BRNO",
					ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindCourt, Name: "Krajský soud v Brně", CaseReference: ptr("46 T 3/2024")},
					SentenceID:           ptr("S-000004-1-1")},
			},
		},
		{
			// Conditionally released on 2024-03-15 after imprisonment; in the REINTEGRATION caseload.
			person: model.Person{ID: NamedHorvath, GivenNames: "Ján", FamilyName: "Horváth", DateOfBirth: d("1969-07-07"),
				PlaceOfBirth: &model.Place{City: "Košice", Country: "SK"}, Sex: model.SexMale, Nationalities: []string{"SK"},
				NationalID: ptr("690707/5285"), Residence: &model.Address{Street: "Štúrova 21", City: "Košice", PostalCode: "040 01", Country: "SK"}},
			convictions: []model.Conviction{{
				ID: "C-000005-1", PersonID: NamedHorvath, Court: "Okresný súd Košice I", CourtCountry: "SK", CaseReference: "2 T 201/2019",
				DecisionDate: d("2019-06-11"), FinalDate: d("2019-07-30"),
				Offences: []model.Offence{{LegalProvision: "§ 212 ods. 1 TZ SK", Description: "krádež", Category: "0801 00",
					Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationAccomplice, Intentional: true, CommittedOn: dp("2018-10-14")}},
				Sentences: []model.Sentence{{ID: "S-000005-1-1", Kind: model.SentenceKindImprisonment, DurationMonths: ptr(84), ProbationMonths: ptr(36),
					StartDate: dp("2019-09-01"), EndDate: dp("2024-03-15"), Status: model.SentenceStatusConditionallyReleased, ServedMonths: ptr(54)}},
			}},
			periods: []model.DetentionPeriod{
				{ID: "D-000005-1", Kind: model.DetentionKindImprisonment, Start: d("2019-09-01"), End: dp("2024-03-15"), PrisonID: "PRS-SK-LEOPOLDOV",
					ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindCourt, Name: "Okresný súd Košice I", CaseReference: ptr("2 T 201/2019")},
					SentenceID:           ptr("S-000005-1-1"), ExpectedRelease: dp("2026-09-01"), ReleaseReason: ptr(model.ReleaseReasonConditionalRelease)},
			},
		},
	}
}
