package register

import (
	"regexp"
	"strings"

	"custodia/apperr"
	"custodia/model"
)

var caseReferencePattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} /\-.:_()]{0,63}$`)

// ValidatePurpose checks the purpose every read of person data must state (DESIGN §3): a case
// reference of 1–64 letters, digits, spaces and "/-.:_()", starting with a letter or digit, and
// a known reason. Whether the caller's grant allows the reason is decided by package grants.
func ValidatePurpose(p *model.PurposeInput) error {
	if p == nil {
		return apperr.New(apperr.PurposeRequired, "this query reads person data and needs a purpose")
	}
	ref := strings.TrimSpace(p.CaseReference)
	if ref == "" {
		return apperr.BadInput("purpose.caseReference", "purpose.caseReference must name the case the access serves, e.g. 4 T 123/2025")
	}
	if !caseReferencePattern.MatchString(ref) {
		return apperr.BadInput("purpose.caseReference", "purpose.caseReference must be 1 to 64 letters, digits, spaces or /-.:_() and start with a letter or digit")
	}
	if !p.Reason.IsValid() {
		return apperr.BadInput("purpose.reason", "purpose.reason %q is not a known purpose code", p.Reason)
	}
	p.CaseReference = ref
	return nil
}
