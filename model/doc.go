// Package model holds the register's types as GraphQL returns them and as the store keeps them:
// the bson tags are the document shape, so the store can decode straight into these structs
// without this package importing the database driver. Types generated from schema.graphqls
// (enums, inputs, connections) live in models_gen.go.
//
// Nothing in this package decides who may read what; that is package policy's job, driven by
// the @access directives in schema.graphqls.
package model
