package model

import (
	"time"
)

// PersonEvent is one entry of the event log: what happened to a person, naming the record it
// happened to and nothing else (no personal data). Key is its ordered ID; End, set only on
// the last value a subscription sends, is the reason the subscription ends.
type PersonEvent struct {
	Key      string          `bson:"_id" json:"id"`
	Kind     PersonEventKind `bson:"kind" json:"kind"`
	PersonID string          `bson:"personId" json:"personId"`
	// EntityID is the record the event concerns (a detention period, conviction, sentence…).
	EntityID   string    `bson:"entityId" json:"entityId"`
	OccurredAt time.Time `bson:"at" json:"occurredAt"`
	// Source identifies the write that produced the event (hash of subject and idempotency
	// key), so a retried write does not log its event twice.
	Source string `bson:"source" json:"-"`
	// End is the error that ends a subscription; never stored.
	End error `bson:"-" json:"-"`
}

// ID is the event's ID; on the value that ends a subscription it is the reason, so the
// reason reaches the client as a GraphQL error with its code.
func (e *PersonEvent) ID() (string, error) {
	if e.End != nil {
		return "", e.End
	}
	return e.Key, nil
}

func (e *PersonEvent) ref(kinds ...PersonEventKind) *string {
	for _, k := range kinds {
		if e.Kind == k {
			id := e.EntityID
			return &id
		}
	}
	return nil
}

// DetentionPeriodID is the period a detention event concerns.
func (e *PersonEvent) DetentionPeriodID() *string {
	return e.ref(PersonEventKindAdmitted, PersonEventKindTransferred, PersonEventKindReleased, PersonEventKindExpectedReleaseChanged)
}

// ConvictionID is the conviction a CONVICTION_RECORDED event concerns.
func (e *PersonEvent) ConvictionID() *string { return e.ref(PersonEventKindConvictionRecorded) }

// SentenceID is the sentence a SENTENCE_STATUS_CHANGED event concerns.
func (e *PersonEvent) SentenceID() *string { return e.ref(PersonEventKindSentenceStatusChanged) }

// ExpungedConvictionID is the conviction an EXPUNGED event concerns.
func (e *PersonEvent) ExpungedConvictionID() *string { return e.ref(PersonEventKindExpunged) }

// CorrectedRecordID is the record a CORRECTED event concerns.
func (e *PersonEvent) CorrectedRecordID() *string { return e.ref(PersonEventKindCorrected) }

// EventReferenceField is, per kind, the PersonEvent field that names its record; a role
// receives an event only if the schema's @access lets it read that field.
var EventReferenceField = map[PersonEventKind]string{
	PersonEventKindAdmitted:               "detentionPeriodId",
	PersonEventKindTransferred:            "detentionPeriodId",
	PersonEventKindReleased:               "detentionPeriodId",
	PersonEventKindExpectedReleaseChanged: "detentionPeriodId",
	PersonEventKindConvictionRecorded:     "convictionId",
	PersonEventKindSentenceStatusChanged:  "sentenceId",
	PersonEventKindExpunged:               "expungedConvictionId",
	PersonEventKindCorrected:              "correctedRecordId",
}

// EventCallback is an agency's registered HTTPS callback and its delivery state.
type EventCallback struct {
	ID        string       `bson:"_id" json:"id"`
	Agency    string       `bson:"agency" json:"agency"`
	Role      Role         `bson:"role" json:"role"`
	URL       string       `bson:"url" json:"url"`
	PersonIDs []string     `bson:"personIds" json:"personIds"`
	Purpose   AuditPurpose `bson:"purpose" json:"-"`
	// Secret is the HMAC-SHA256 key; returned to the caller only when registered.
	Secret *string `bson:"secret" json:"secret"`
	// Cursor is the ID of the last event handled (delivered or not for this agency).
	Cursor string `bson:"cursor" json:"-"`
	// Attempts counts failed deliveries of the event after Cursor; NextAttempt is when to retry.
	Attempts    int       `bson:"attempts" json:"-"`
	NextAttempt time.Time `bson:"nextAttempt" json:"-"`
	// LeaseUntil and LeaseOwner let one instance at a time deliver.
	LeaseUntil time.Time `bson:"leaseUntil" json:"-"`
	LeaseOwner string    `bson:"leaseOwner" json:"-"`
}
