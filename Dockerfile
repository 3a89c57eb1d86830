# pgsweep in a container: a static-stdlib build, then a slim Debian runtime.
#   docker build -t pgsweep .
#   docker run --rm -e DATABASE_URL=... -v $PWD/jobs.yaml:/etc/pgsweep/jobs.yaml pgsweep run --due
ARG SWIFT_IMAGE=swift:6.3-bookworm

FROM ${SWIFT_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev libzstd-dev libcurl4-openssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product pgsweep \
 && install -m 0755 "$(swift build -c release --show-bin-path)/pgsweep" /usr/local/bin/pgsweep

FROM debian:bookworm-slim
# libcurl4 serves the Pushgateway client (FoundationNetworking).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libzstd1 libcurl4 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pgsweep \
 && useradd --system --uid 10001 --gid pgsweep --home-dir /var/lib/pgsweep --shell /usr/sbin/nologin pgsweep \
 && install -d -o pgsweep -g pgsweep -m 0750 /var/lib/pgsweep /var/lib/pgsweep/archive \
 && install -d -m 0755 /etc/pgsweep
COPY --from=build /usr/local/bin/pgsweep /usr/local/bin/pgsweep
USER 10001:10001
WORKDIR /var/lib/pgsweep
ENV PGSWEEP_CONFIG=/etc/pgsweep/jobs.yaml
# The binary is PID 1 (exec form), so SIGTERM from the runtime reaches it directly.
ENTRYPOINT ["/usr/local/bin/pgsweep"]
CMD ["run", "--due"]
