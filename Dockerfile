# pgfold: multi-stage build on Debian bookworm, from the same Debian packages the tests use.
#
#   docker build -t pgfold .
#   docker run -p 6432:6432 -p 6433:6433 -e PGFOLD_UPSTREAM=postgresql://db:5432/app pgfold
#   docker run -v "$PWD/pgfold.ini:/etc/pgfold/pgfold.ini:ro" -p 6432:6432 pgfold
#
# Configuration (contrib/docker-entrypoint.sh): /etc/pgfold/pgfold.ini when it exists (mount
# it), then the PGFOLD_* variables as flags (PGFOLD_UPSTREAM, PGFOLD_LISTEN, PGFOLD_ADMIN_LISTEN,
# PGFOLD_MODE, PGFOLD_LOG_LEVEL, PGFOLD_WORKERS; a flag wins over the file), then the
# container's arguments. docs/deploy.md has the details and a compose example.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
        libuv1-dev libpq-dev libpg-query-dev libinih-dev libprotobuf-c-dev libssl-dev libjansson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY config ./config
COPY pgwire ./pgwire
COPY contrib ./contrib
COPY scripts ./scripts
COPY parser ./parser
COPY batcher ./batcher
COPY proxy ./proxy
RUN make -j"$(nproc)" build/pgfold \
 && chmod 0755 contrib/docker-entrypoint.sh contrib/docker-healthcheck.sh

FROM debian:bookworm-slim
# ca-certificates: for upstream sslrootcert=system. curl: for the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libpq5 libpg-query1504.0 libinih1 libssl3 libjansson4 \
        ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 6432 pgfold \
 && useradd --system --uid 6432 --gid pgfold --no-create-home --home-dir / \
        --shell /usr/sbin/nologin pgfold \
 && mkdir -p /etc/pgfold
COPY --from=build /src/build/pgfold /usr/local/bin/pgfold
COPY --from=build /src/contrib/docker-entrypoint.sh /usr/local/bin/pgfold-entrypoint
COPY --from=build /src/contrib/docker-healthcheck.sh /usr/local/bin/pgfold-healthcheck
# Inside a container loopback is reachable from nowhere: listen on every address and let the
# published ports decide. Set either to "" to use the config file's value instead.
ENV PGFOLD_LISTEN=0.0.0.0:6432 \
    PGFOLD_ADMIN_LISTEN=0.0.0.0:6433
# Numeric, so that Kubernetes' runAsNonRoot can check it; a mounted pgfold.ini must be
# readable by uid 6432 (or group 6432).
USER 6432:6432
EXPOSE 6432 6433
# Liveness: /health answers while pgfold itself works, whatever the database does, so a
# database outage does not mark (or, under Swarm, restart) every pgfold. Readiness is /ready:
# docker-compose.yml waits on `pgfold-healthcheck ready` before starting the application.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["pgfold-healthcheck", "health"]
# SIGTERM drains sessions for up to shutdown_timeout_ms (30 s): docker stop -t 35.
STOPSIGNAL SIGTERM
ENTRYPOINT ["pgfold-entrypoint"]
# No default arguments (an ENTRYPOINT already drops the base image's CMD; said here to be plain).
CMD []
