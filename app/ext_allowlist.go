package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
)

// allowList accepts only operations from a file of persisted operations (production option):
// a request names one by its SHA-256 (extensions.persistedQuery.sha256Hash) or sends its exact
// text.
type allowList struct{ operations map[string]string }

var _ graphql.OperationParameterMutator = allowList{}

func loadAllowList(path string) (allowList, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return allowList{}, err
	}
	var list map[string]string
	if err := json.Unmarshal(raw, &list); err != nil {
		return allowList{}, fmt.Errorf("%s: want a JSON object of sha256 → operation text: %w", path, err)
	}
	ops := make(map[string]string, len(list))
	for hash, text := range list {
		sum := sha256.Sum256([]byte(text))
		if hex.EncodeToString(sum[:]) != hash {
			return allowList{}, fmt.Errorf("%s: the hash %s does not match its operation", path, hash)
		}
		ops[hash] = text
	}
	return allowList{operations: ops}, nil
}

func (allowList) ExtensionName() string { return "OperationAllowList" }

func (allowList) Validate(schema graphql.ExecutableSchema) error { return nil }

func (a allowList) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	hash := ""
	if pq, ok := params.Extensions["persistedQuery"].(map[string]any); ok {
		hash, _ = pq["sha256Hash"].(string)
	}
	if params.Query != "" {
		sum := sha256.Sum256([]byte(params.Query))
		hash = hex.EncodeToString(sum[:])
	}
	text, ok := a.operations[hash]
	if !ok {
		e := apperr.New(apperr.Forbidden, "this server accepts only registered (persisted) operations").With("reason", "OPERATION_NOT_ALLOWED")
		return &gqlerror.Error{Message: e.Message, Err: e}
	}
	params.Query = text
	return nil
}
