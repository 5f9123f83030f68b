// Package deploy holds no Go code of the server: it is where the container deployment lives
// (compose.yaml, nginx.conf, gen-secrets.sh, see docs/deployment.md). Its tests check what
// `docker compose config` cannot check on machines without Docker: the compose file's structure
// and its essentials (MongoDB authentication and TLS, secrets, health checks), the Dockerfile's
// HEALTHCHECK, .dockerignore, and the secrets gen-secrets.sh creates.
package deploy
