// Package examples holds, for frontend teams, each role's schema as SDL (schema/<ROLE>.graphql,
// printed by `go run . schema -role <ROLE>`), example operations per role
// (operations/<ROLE>/*.graphql) and a small TypeScript client generated from them with
// graphql-codegen (codegen.mjs, src/). Its tests keep the schemas current, validate every
// operation against its role's schema and run the example queries against a real server.
package examples
