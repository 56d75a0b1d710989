# pgfold: multi-stage build on Debian bookworm, from the same Debian packages the tests use.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
        libuv1-dev libpq-dev libpg-query-dev libinih-dev libprotobuf-c-dev libssl-dev \
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
RUN make -j"$(nproc)" build/pgfold

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libpq5 libpg-query1504.0 libinih1 libssl3 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin pgfold
COPY --from=build /src/build/pgfold /usr/local/bin/pgfold
USER pgfold
EXPOSE 6432 6433
HEALTHCHECK --interval=5s --timeout=3s --retries=10 \
    CMD curl -fsS http://127.0.0.1:6433/health || exit 1
ENTRYPOINT ["/usr/local/bin/pgfold"]
CMD ["--listen", "0.0.0.0:6432", "--admin-listen", "0.0.0.0:6433", \
     "--upstream", "postgresql://postgres:5432/app"]
