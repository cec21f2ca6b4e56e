# The image deploy/ runs (docs/serve.md, "In a cluster"):
#   docker build -t REGISTRY/runbook:0.1.0 .
# Build stage: Debian 12 with only what `make` builds with (`make deps-build`,
# the Makefile's DEPS_BUILD), built and installed under /out as PREFIX=/usr.
# Runtime stage: the shared libraries bin/runbook and lib/runbook/engine.so
# name (tests/build/image.sh holds this list to them), CA certificates, the
# shipped books in /usr/share/runbook/runbooks, uid 10001 as in
# deploy/deployment.yaml. The init container's `sh` and `tar` come with
# debian:12-slim.
FROM debian:12-slim AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY engine engine
COPY lualib lualib
COPY tools tools
COPY runbooks runbooks
COPY docs/runbook.1 docs/runbook.1
RUN make deps-build && rm -rf /var/lib/apt/lists/* \
    && make -j"$(nproc)" && make install DESTDIR=/out PREFIX=/usr

FROM debian:12-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libcurl4 libgnutls30 libhiredis0.14 liblua5.4-0 libmicrohttpd12 libpq5 libssl3 \
        libyaml-0-2 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd -g 10001 runbook && useradd -u 10001 -g 10001 -d /var/lib/runbook -M runbook
COPY --from=build /out/usr /usr
USER 10001:10001
ENV XDG_STATE_HOME=/var/lib/runbook/state
EXPOSE 9095
ENTRYPOINT ["/usr/bin/runbook"]
CMD ["serve", "--listen", "0.0.0.0:9095"]
