package model

import "time"

// GrantIdentity is the identity a grant was issued to.
type GrantIdentity struct {
	Name     *string `bson:"name,omitempty" json:"name"`
	Username *string `bson:"username,omitempty" json:"username"`
	Email    *string `bson:"email,omitempty" json:"email"`
}

// AccessGrant is an official's permission to use the register (collection "grants", DESIGN §5).
type AccessGrant struct {
	ID              string        `bson:"_id" json:"id"`
	Subject         string        `bson:"subject" json:"subject"`
	Agency          string        `bson:"agency" json:"agency"`
	Role            Role          `bson:"role" json:"role"`
	Status          GrantStatus   `bson:"status" json:"status"`
	IssuedTo        GrantIdentity `bson:"issuedTo" json:"issuedTo"`
	AllowedPurposes []PurposeCode `bson:"allowedPurposes" json:"allowedPurposes"`
	Caseload        []string      `bson:"caseload" json:"caseload"`
	Justification   *string       `bson:"justification,omitempty" json:"justification"`
	RequestedAt     time.Time     `bson:"requestedAt" json:"-"`
	ValidFrom       *Date         `bson:"validFrom,omitempty" json:"validFrom"`
	ValidUntil      *Date         `bson:"validUntil,omitempty" json:"validUntil"`
	StatusReason    *string       `bson:"statusReason,omitempty" json:"statusReason"`
	Version         int           `bson:"version" json:"-"`
}
