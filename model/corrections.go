package model

import "time"

// Blocking says why and since when data is blocked (DESIGN §7a).
type Blocking struct {
	Since        time.Time `bson:"since" json:"since"`
	Reason       string    `bson:"reason" json:"reason"`
	CorrectionID string    `bson:"correctionId" json:"correctionId"`
	// Via is set on a detention period blocked with the conviction or sentence it executes:
	// that item's ID. Unblocking the item unblocks the period.
	Via *string `bson:"via,omitempty" json:"via"`
	// CopyOnly is set on a blocked detention period that belongs to the full copy only (it
	// executed an expunged or deemed-not-convicted conviction's sentence).
	CopyOnly bool `bson:"copyOnly,omitempty" json:"-"`
}

// BlockedSentence is a blocked sentence, kept apart from its conviction.
type BlockedSentence struct {
	ConvictionID string   `bson:"convictionId"`
	Sentence     Sentence `bson:"sentence"`
}

// Correction is one correction, blocking or unblocking of a person's data, stored in the
// document it changed (see Person.Corrections). PersonID is filled in when it is read.
type Correction struct {
	ID                 string           `bson:"id" json:"id"`
	PersonID           string           `bson:"-" json:"personId"`
	Action             CorrectionAction `bson:"action" json:"action"`
	Item               RecordItemKind   `bson:"item" json:"item"`
	ItemID             string           `bson:"itemId" json:"itemId"`
	Reason             string           `bson:"reason" json:"reason"`
	Time               time.Time        `bson:"time" json:"time"`
	Subject            string           `bson:"subject" json:"subject"`
	Agency             string           `bson:"agency" json:"agency"`
	Role               Role             `bson:"role" json:"role"`
	Changes            []FieldChange    `bson:"changes" json:"changes"`
	PreviousVersion    *string          `bson:"previousVersion,omitempty" json:"previousVersion"`
	RecipientsToNotify []Recipient      `bson:"recipientsToNotify" json:"recipientsToNotify"`
}

// FieldChange is one changed field of a correction; Before and After are JSON values (nil:
// not set).
type FieldChange struct {
	Field  string  `bson:"field" json:"field"`
	Before *string `bson:"before,omitempty" json:"before"`
	After  *string `bson:"after,omitempty" json:"after"`
}

// GrantChangeRequest is an approver's request to change or cancel a grant.
type GrantChangeRequest struct {
	Kind            GrantChangeKind `bson:"kind" json:"kind"`
	RequestedBy     string          `bson:"requestedBy" json:"requestedBy"`
	RequestedAt     time.Time       `bson:"requestedAt" json:"requestedAt"`
	Reason          string          `bson:"reason" json:"reason"`
	AllowedPurposes []PurposeCode   `bson:"allowedPurposes,omitempty" json:"allowedPurposes"`
	Caseload        []string        `bson:"caseload,omitempty" json:"caseload"`
	ValidUntil      *Date           `bson:"validUntil,omitempty" json:"validUntil"`
}

// GrantEvent is one transition of a grant in the gap-free event feed (collection
// "grantEvents", _id the zero-padded sequence).
type GrantEvent struct {
	ID       string         `bson:"_id" json:"-"`
	Sequence int            `bson:"seq" json:"sequence"`
	Time     time.Time      `bson:"time" json:"time"`
	Kind     GrantEventKind `bson:"kind" json:"kind"`
	GrantID  string         `bson:"grantId" json:"grantId"`
	Subject  string         `bson:"subject" json:"subject"`
	Agency   string         `bson:"agency" json:"agency"`
	Role     Role           `bson:"role" json:"role"`
	From     *GrantStatus   `bson:"from,omitempty" json:"from"`
	To       GrantStatus    `bson:"to" json:"to"`
	Reason   *string        `bson:"reason,omitempty" json:"reason"`
	Actor    *string        `bson:"actor,omitempty" json:"actor"`
}
