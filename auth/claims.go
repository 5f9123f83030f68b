package auth

import (
	"fmt"
	"slices"
	"strings"

	"custodia/model"
)

// ClaimNames says where the token carries the identity; agencies' identity providers differ.
// Each field is a claim path: a claim name, or dotted names into nested objects
// ("realm_access.roles", "resource_access.custodia.roles"); a dot inside a name is written
// "\.". Roles is a comma-separated list of paths whose values are taken together (Keycloak
// realm and client roles, say). An empty field takes the default.
type ClaimNames struct {
	Subject  string
	Name     string
	Username string
	Email    string
	Agency   string
	Roles    string
	Approver string
}

// DefaultClaimNames are the OpenID Connect names plus "agency", "roles" and "approver".
var DefaultClaimNames = ClaimNames{
	Subject: "sub", Name: "name", Username: "preferred_username", Email: "email",
	Agency: "agency", Roles: "roles", Approver: "approver",
}

// withDefaults fills empty fields from DefaultClaimNames.
func (c ClaimNames) withDefaults() ClaimNames {
	d := DefaultClaimNames
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&c.Subject, d.Subject}, {&c.Name, d.Name}, {&c.Username, d.Username}, {&c.Email, d.Email},
		{&c.Agency, d.Agency}, {&c.Roles, d.Roles}, {&c.Approver, d.Approver},
	} {
		if strings.TrimSpace(*f.dst) == "" {
			*f.dst = f.def
		}
	}
	return c
}

// claimPath is a parsed claim path: the names to follow from the top-level claims.
type claimPath []string

// parseClaimPath splits a dotted path; "\." is a literal dot within a name.
func parseClaimPath(s string) (claimPath, error) {
	s = strings.TrimSpace(s)
	var (
		path claimPath
		cur  strings.Builder
	)
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '.':
			cur.WriteByte('.')
			i++
		case s[i] == '.':
			path = append(path, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	path = append(path, cur.String())
	if slices.Contains(path, "") {
		return nil, fmt.Errorf("claim path %q has an empty name", s)
	}
	return path, nil
}

// lookup follows the path through nested JSON objects; nil when any step is missing.
func (p claimPath) lookup(claims map[string]any) any {
	var v any = claims
	for _, name := range p {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = obj[name]; !ok {
			return nil
		}
	}
	return v
}

func (p claimPath) String() string {
	escaped := make([]string, len(p))
	for i, n := range p {
		escaped[i] = strings.ReplaceAll(n, ".", `\.`)
	}
	return strings.Join(escaped, ".")
}

// claimReader reads a principal's identity from verified claims.
type claimReader struct {
	subject, name, username, email, agency, approver claimPath
	roles                                            []claimPath
	// roleMap, when not nil, is the only source of roles: token values it does not list are
	// ignored.
	roleMap map[string]model.Role
}

func newClaimReader(names ClaimNames, roleMap map[string]model.Role) (*claimReader, error) {
	names = names.withDefaults()
	r := &claimReader{roleMap: roleMap}
	for _, f := range []struct {
		dst  *claimPath
		path string
	}{{&r.subject, names.Subject}, {&r.name, names.Name}, {&r.username, names.Username}, {&r.email, names.Email},
		{&r.agency, names.Agency}, {&r.approver, names.Approver}} {
		p, err := parseClaimPath(f.path)
		if err != nil {
			return nil, err
		}
		*f.dst = p
	}
	for _, s := range strings.Split(names.Roles, ",") {
		p, err := parseClaimPath(s)
		if err != nil {
			return nil, fmt.Errorf("roles: %w", err)
		}
		r.roles = append(r.roles, p)
	}
	for value, role := range roleMap {
		if !role.IsValid() {
			return nil, fmt.Errorf("role mapping %q → %q: not a custodia role", value, role)
		}
	}
	return r, nil
}

// read fills the identity claims of a principal (not its role).
func (r *claimReader) read(claims map[string]any) *Principal {
	str := func(p claimPath) string { s, _ := p.lookup(claims).(string); return s }
	p := &Principal{Subject: str(r.subject), Name: str(r.name), Username: str(r.username), Email: str(r.email), Agency: str(r.agency)}
	switch v := r.approver.lookup(claims).(type) {
	case bool:
		p.Approver = v
	case string:
		p.Approver = v == "true"
	}
	return p
}

// roleValues are the custodia roles the token carries: every value found under the role
// paths, mapped through the role table when one is configured; unknown values are dropped.
func (r *claimReader) roleValues(claims map[string]any) []model.Role {
	var out []model.Role
	for _, p := range r.roles {
		for _, v := range stringList(p.lookup(claims)) {
			role := model.Role(v)
			if r.roleMap != nil {
				role = r.roleMap[v]
			}
			if role.IsValid() && !slices.Contains(out, role) {
				out = append(out, role)
			}
		}
	}
	return out
}

// ParseRoleMap reads a role mapping table "idp-value=ROLE,other=ROLE" (JWT_ROLE_MAP). Values
// are matched exactly (case-sensitive); each target must be a custodia role. An empty
// string means no table: token values are taken as custodia role names.
func ParseRoleMap(s string) (map[string]model.Role, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]model.Role{}
	for _, pair := range strings.Split(s, ",") {
		value, role, ok := strings.Cut(pair, "=")
		value, role = strings.TrimSpace(value), strings.ToUpper(strings.TrimSpace(role))
		if !ok || value == "" {
			return nil, fmt.Errorf("role mapping %q: want value=ROLE", strings.TrimSpace(pair))
		}
		if !model.Role(role).IsValid() {
			return nil, fmt.Errorf("role mapping %q: %q is not one of %s", value, role, strings.Join(roleNames(), ", "))
		}
		if _, dup := m[value]; dup {
			return nil, fmt.Errorf("role mapping %q is listed twice", value)
		}
		m[value] = model.Role(role)
	}
	return m, nil
}

func roleNames() []string {
	names := make([]string, len(model.AllRole))
	for i, r := range model.AllRole {
		names[i] = string(r)
	}
	return names
}
