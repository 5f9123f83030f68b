// Package seed builds the deterministic demo register of development mode (DESIGN §10): about
// thirty prisons of every kind, the five named persons exactly as the design describes them,
// generated persons with convictions, sentences of every kind, expungements and detention
// histories, and one active grant per role for the demo officials. The same options always
// give the same register, so documentation and tests can rely on it.
package seed

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"custodia/auth"
	"custodia/model"
	"custodia/register"
	"custodia/store"
)

// ReferenceDay is the day the demo register describes ("today" of its stories).
var ReferenceDay = model.MustDate("2026-11-01")

// DefaultPersons is the default size of the demo register.
const DefaultPersons = 1000

// Options size the demo register.
type Options struct {
	// Persons is the total number of persons, named ones included (minimum: the named five).
	Persons int
	// Log, when set, says why a start waits for another instance's seed or takes it over.
	Log *slog.Logger
}

// Official is a demo official: the identity a development token is issued for, matching the
// seeded grant.
type Official struct {
	auth.Identity
	Role            model.Role
	AllowedPurposes []model.PurposeCode
}

// Officials are the demo officials, one per role (DESIGN §10 subjects).
var Officials = []Official{
	official(model.RoleCourt, "demo-court", "Kateřina Soudcová", "Městský soud v Praze", true, model.PurposeCodeCriminalProceedings, model.PurposeCodeSentenceEnforcement),
	official(model.RoleProsecutor, "demo-prosecutor", "Tomáš Žalobce", "Městské státní zastupitelství v Praze", true, model.PurposeCodeCriminalProceedings, model.PurposeCodePreTrialInvestigation, model.PurposeCodeSentenceEnforcement),
	official(model.RolePolice, "demo-police", "Pavel Strážník", "Policie České republiky", true, model.PurposeCodePreTrialInvestigation, model.PurposeCodeCriminalProceedings),
	official(model.RoleReintegration, "demo-reintegration", "Lenka Probační", "Probační a mediační služba", true, model.PurposeCodeSupervision, model.PurposeCodeSentenceEnforcement),
	official(model.RolePrisonService, "demo-prison-service", "Jiří Dozorce", "Vězeňská služba České republiky", true, model.PurposeCodeDetentionManagement, model.PurposeCodeSentenceEnforcement),
	official(model.RoleRegistrar, "demo-registrar", "Eva Rejstříková", "Rejstřík trestů", true, model.PurposeCodeRegisterMaintenance),
	official(model.RoleAuditor, "demo-auditor", "Martin Kontrolor", "Úřad pro ochranu osobních údajů", true, model.PurposeCodeDataProtectionAudit),
}

func official(role model.Role, subject, name, agency string, approver bool, purposes ...model.PurposeCode) Official {
	return Official{
		Identity: auth.Identity{Subject: subject, Name: name, Username: subject, Email: subject + "@demo.custodia.example",
			Agency: agency, Roles: []model.Role{role}, Approver: approver},
		Role: role, AllowedPurposes: purposes,
	}
}

// OfficialFor returns the demo official of a role.
func OfficialFor(role model.Role) (Official, bool) {
	for _, o := range Officials {
		if o.Role == role {
			return o, true
		}
	}
	return Official{}, false
}

// Build makes the demo register in memory.
func Build(opts Options) store.Register {
	if opts.Persons < len(namedPersons()) {
		opts.Persons = len(namedPersons())
	}
	g := newGenerator()
	r := store.Register{Prisons: prisons()}
	for _, n := range namedPersons() {
		g.add(&r, n)
	}
	for i := len(r.Persons); i < opts.Persons; i++ {
		g.add(&r, g.person(i+1))
	}
	caseload := []string{NamedDvorakova, NamedHorvath}
	caseload = append(caseload, g.supervised...)
	for _, o := range Officials {
		r.Grants = append(r.Grants, demoGrant(o, caseload))
	}
	return r
}

func demoGrant(o Official, caseload []string) model.AccessGrant {
	name, username, email := o.Name, o.Username, o.Email
	validFrom := model.MustDate("2026-01-01")
	validUntil := model.MustDate("2027-12-31")
	g := model.AccessGrant{
		ID: "GRANT-" + o.Subject, Subject: o.Subject, Agency: o.Agency, Role: o.Role, Status: model.GrantStatusActive,
		IssuedTo:        model.GrantIdentity{Name: &name, Username: &username, Email: &email},
		AllowedPurposes: append([]model.PurposeCode{}, o.AllowedPurposes...),
		Caseload:        []string{},
		RequestedAt:     time.Date(2025, 12, 15, 9, 0, 0, 0, time.UTC),
		ValidFrom:       &validFrom, ValidUntil: &validUntil, Version: 1,
	}
	if o.Role == model.RoleReintegration {
		g.Caseload = caseload
	}
	return g
}

// IfEmpty seeds the database unless a completed seed is already there; an interrupted seed is
// cleared and redone. Of several instances starting on one empty database, one seeds and the
// others wait for it (store.SeedOnce). It reports whether this instance seeded.
func IfEmpty(ctx context.Context, s *store.Store, opts Options) (bool, error) {
	return s.SeedOnce(ctx, func(ctx context.Context) error {
		r := Build(opts)
		if err := s.LoadRegister(ctx, r, map[string]any{"persons": len(r.Persons), "referenceDay": string(ReferenceDay)}); err != nil {
			return fmt.Errorf("seed demo register: %w", err)
		}
		return nil
	}, opts.Log)
}

// finish fills the derived fields of a person.
func finish(p *model.Person) {
	if p.PreviousNames == nil {
		p.PreviousNames = []model.PreviousName{}
	}
	p.Version = 1
	p.Search = register.SearchKeys(p)
}
