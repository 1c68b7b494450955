# otrbridge container image.
#
#   docker build -t otrbridge .
#   docker run --rm -v "$PWD/data:/data" otrbridge -e -c /data/config.yaml    # example config
#   docker run --rm -v "$PWD/data:/data" otrbridge -g -c /data/config.yaml -r /data/registration.yaml
#   docker run -d -v "$PWD/data:/data" -p 29340:29340 otrbridge                # run
#
# cgo is needed for SQLite (github.com/mattn/go-sqlite3); -tags goolm selects
# the pure-Go Olm implementation for end-to-bridge encryption, so the image
# needs no libolm.

FROM golang:1.26-trixie AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Version and commit for --version: from the build arguments, else from git
# when the build context has the repository (see the Makefile for the same).
ARG TAG=
ARG RELEASE=
ARG COMMIT=
RUN TAG="${TAG:-$(git describe --exact-match --tags --match 'v[0-9]*' 2>/dev/null || true)}" \
	&& RELEASE="${RELEASE:-$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)}" \
	&& COMMIT="${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}" \
	&& CGO_ENABLED=1 go build -tags goolm -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.Tag=${TAG} -X main.Release=${RELEASE} -X main.Commit=${COMMIT} -X main.BuildTime=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	-o /out/otrbridge ./cmd/otrbridge

FROM debian:trixie-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates tzdata curl \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 1337 --user-group --home-dir /data --no-create-home otrbridge \
	&& mkdir -p /data && chown otrbridge:otrbridge /data
COPY --from=build /out/otrbridge /usr/local/bin/otrbridge
USER otrbridge
# Relative paths in the config (SQLite database, logs) land in the volume.
WORKDIR /data
VOLUME /data
# The appservice listener (appservice.port); set appservice.hostname to
# 0.0.0.0 in the config so the homeserver can reach it.
EXPOSE 29340
# Ready once connected to the homeserver (the appservice's own endpoint).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
	CMD curl -fsS http://127.0.0.1:29340/_matrix/mau/ready || exit 1
ENTRYPOINT ["/usr/local/bin/otrbridge"]
CMD ["-c", "/data/config.yaml", "-r", "/data/registration.yaml"]
