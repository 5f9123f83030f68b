// Package register holds the domain rules of the register in plain Go: how names are folded for
// search and which searches are allowed, how a purpose must look, how pages and cursors work,
// and how a person's detention status follows from the detention periods. It does not touch
// the database or know about roles; its errors are *apperr.Error with BAD_USER_INPUT.
package register
