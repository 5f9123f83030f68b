# syntax=docker/dockerfile:1
# custodia: multi-stage build of a static binary, run as a non-root user in a minimal image.
# Production needs MONGODB_URI, JWT_ISSUER, JWT_AUDIENCE and JWT_JWKS_URL or JWT_PUBLIC_KEY_FILE
# (see README.md); the image starts in production mode. .dockerignore keeps data/ (the embedded
# database and the development signing key), deployment secrets and node_modules out of the
# build context; the GraphiQL assets are committed (web/graphiql/dist), so no Node is needed here.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOFLAGS=-trimpath go build -ldflags="-s -w" -o /out/custodia .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/custodia /custodia
ENV CUSTODIA_MODE=production \
    LISTEN_ADDR=:8080 \
    DATA_DIR=/tmp/custodia
EXPOSE 8080
USER nonroot:nonroot
# Distroless has no shell or curl: the binary checks itself (GET /readyz on LISTEN_ADDR).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["/custodia", "healthcheck"]
ENTRYPOINT ["/custodia"]
