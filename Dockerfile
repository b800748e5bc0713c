# railhook: a multi-stage image on Debian 12 (bookworm).
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
        libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev libpq-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release \
 && cmake --build --preset release -j"$(nproc)" --target railhook

FROM debian:bookworm-slim
# The runtime libraries; tests/docker/check-runtime-libs.sh checks that they cover every
# shared library the binary needs. Keep the list between the markers.
# runtime-packages: begin
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libmicrohttpd12 libcurl4 libcjson1 libpq5 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# runtime-packages: end
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin railhook
COPY --from=build /src/build/release/railhook /usr/local/bin/railhook
USER railhook
ENV PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" >/dev/null || exit 1
# No ENTRYPOINT: a command given to the image (`docker run IMAGE railhook migrate`, Railway's
# pre-deploy command `railhook migrate` from railway.json) runs as written, whether the
# platform replaces the ENTRYPOINT or the CMD; tests/unit/test_deploy_config.c holds this.
CMD ["railhook", "serve"]
