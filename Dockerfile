# linebot as a container image, for any container host, AWS Lambda (container
# image) and Alibaba Cloud Function Compute (custom container).
#
#   docker build -t linebot .
#   docker run --rm -p 8080:8080 -e LINE_CHANNEL_SECRET=... \
#     -e LINE_CHANNEL_ACCESS_TOKEN=... -e LLM_API_KEY=... linebot
#
# One entry point for all three: `linebot serve` runs the webhook server on
# PORT (8080); with AWS_LAMBDA_RUNTIME_API set (Lambda sets it) it runs the
# Lambda Runtime API loop instead, so no Lambda base image is needed; with
# FC_FUNCTION_NAME set (Function Compute sets it) it listens on
# FC_CUSTOM_LISTEN_PORT (9000), the port to configure for the function.
# docs/packaging.md has the details.

# ---- build: the Release binary, without tests
FROM debian:12 AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libcurl4-openssl-dev libssl-dev libjansson-dev libmicrohttpd-dev \
      libsqlite3-dev libmd4c-dev libutf8proc-dev libpq-dev libxml2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY src ./src
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DLINEBOT_BUILD_TESTS=OFF \
 && cmake --build /build --target linebot -j"$(nproc)" \
 && strip --strip-unneeded /build/linebot \
 && /build/linebot version

# ---- runtime: the binary, its libraries and the CA certificates
FROM debian:12-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libssl3 libjansson4 libmicrohttpd12 \
      libsqlite3-0 libmd4c0 libutf8proc2 libpq5 libxml2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 linebot \
 && useradd --no-log-init --uid 10001 --gid linebot --home-dir /var/lib/linebot \
      --create-home --shell /usr/sbin/nologin linebot
COPY --from=build /build/linebot /usr/local/bin/linebot
# Outside Lambda and FC the SQLite store defaults to ./linebot.db: here
# /var/lib/linebot (mount a volume there to keep it). On Lambda and FC it
# defaults to /tmp, their only writable directory; PostgreSQL (LINEBOT_DB=
# postgres://...) is the store to use there.
WORKDIR /var/lib/linebot
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/linebot"]
CMD ["serve"]
