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
	RequestedAt     time.Time     `bson:"requestedAt" json:"requestedAt"`
	ValidFrom       *Date         `bson:"validFrom,omitempty" json:"validFrom"`
	ValidUntil      *Date         `bson:"validUntil,omitempty" json:"validUntil"`
	StatusReason    *string       `bson:"statusReason,omitempty" json:"statusReason"`
	Version         int           `bson:"version" json:"-"`
}

// AuditEntry is one entry of the audit log (collection "audit"): a leaf of its Merkle tree
// (RFC 6962). Its ID is the zero-padded sequence number, so that appending the same position
// twice fails on the unique _id: that is what keeps the log linear across concurrent requests
// and server instances. Hash is the entry's leaf hash, computed over the canonical encoding of
// every other field (package audit); a field added here is covered without further work, and
// a test fails when a field is left out of the encoding.
type AuditEntry struct {
	ID       string    `bson:"_id" json:"id"`
	Sequence int       `bson:"seq" json:"sequence"`
	Time     time.Time `bson:"time" json:"time"`
	Kind     AuditKind `bson:"kind" json:"kind"`
	Subject  *string   `bson:"subject,omitempty" json:"subject"`
	// SubjectVerified is false when Subject is what a refused token claimed (never trusted),
	// or there is none.
	SubjectVerified bool          `bson:"subjectVerified,omitempty" json:"subjectVerified,omitempty"`
	Name            *string       `bson:"name,omitempty" json:"name"`
	Agency          *string       `bson:"agency,omitempty" json:"agency"`
	Role            *Role         `bson:"role,omitempty" json:"role"`
	GrantID         *string       `bson:"grantId,omitempty" json:"grantId"`
	OperationName   *string       `bson:"operationName,omitempty" json:"operationName"`
	OperationHash   *string       `bson:"operationHash,omitempty" json:"operationHash"`
	Purpose         *AuditPurpose `bson:"purpose,omitempty" json:"purpose"`
	// Accesses are the operation's root fields, each with its own purpose and the persons it
	// returned (DESIGN §6: two accesses with two purposes are two disclosures).
	Accesses        []AuditAccess    `bson:"accesses,omitempty" json:"accesses"`
	Coordinates     []string         `bson:"coordinates" json:"coordinates"`
	PersonIDs       []string         `bson:"personIds" json:"personIds"`
	Outcome         AuditOutcome     `bson:"outcome" json:"outcome"`
	ErrorCode       *string          `bson:"errorCode,omitempty" json:"errorCode"`
	ClientAddress   *string          `bson:"clientAddress,omitempty" json:"clientAddress"`
	RequestID       *string          `bson:"requestId,omitempty" json:"requestId"`
	GrantTransition *GrantTransition `bson:"grantTransition,omitempty" json:"grantTransition"`
	Write           *Write           `bson:"write,omitempty" json:"write"`
	// Hash is the leaf hash (base64 SHA-256 of 0x00 and the canonical encoding), derived from
	// the other fields and therefore the one field the encoding leaves out.
	Hash string `bson:"hash" json:"-"`
}

// AuditAccess is one root field of an operation: the purpose it stated and the persons whose
// data it returned.
type AuditAccess struct {
	// Field is the root field's response key (its alias, or its name).
	Field     string        `bson:"field" json:"field"`
	Purpose   *AuditPurpose `bson:"purpose,omitempty" json:"purpose"`
	PersonIDs []string      `bson:"personIds" json:"personIds"`
}

// AuditPurpose is the purpose an operation stated.
type AuditPurpose struct {
	CaseReference string      `bson:"caseReference" json:"caseReference"`
	Reason        PurposeCode `bson:"reason" json:"reason"`
}

// GrantTransition records a change of a grant's status.
type GrantTransition struct {
	GrantID string       `bson:"grantId" json:"grantId"`
	From    *GrantStatus `bson:"from,omitempty" json:"from"`
	To      GrantStatus  `bson:"to" json:"to"`
	Reason  *string      `bson:"reason,omitempty" json:"reason"`
}

// Disclosure is one delivery of a person's data to an agency, derived from the audit trail.
type Disclosure struct {
	Time          time.Time     `json:"time"`
	Agency        string        `json:"agency"`
	Role          Role          `json:"role"`
	Purpose       *AuditPurpose `json:"purpose"`
	OperationName *string       `json:"operationName"`
	Field         *string       `json:"field"`
	Sequence      int           `json:"sequence"`
}

// Write records a register write in the audit trail before it is applied: which mutation, on
// which person and entity.
type Write struct {
	Mutation string `bson:"mutation"`
	PersonID string `bson:"personId,omitempty"`
	EntityID string `bson:"entityId"`
}

// Recipient is an agency that received a person's data.
type Recipient struct {
	Agency          string    `json:"agency"`
	Roles           []Role    `json:"roles"`
	Disclosures     int       `json:"disclosures"`
	FirstDisclosure time.Time `json:"firstDisclosure"`
	LastDisclosure  time.Time `json:"lastDisclosure"`
}
