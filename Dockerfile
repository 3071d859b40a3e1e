# callsig container image: built on Debian bookworm like a local build, with
# the same pinned librdkafka (2.15.1 from upstream source, checked by sha256,
# scripts/deps-librdkafka.sh) linked statically; the runtime stage holds only
# the shared libraries callsig and librdkafka need, and no librdkafka package.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config python3 ca-certificates npm \
      zlib1g-dev libssl-dev libzstd-dev liblz4-dev libcurl4-openssl-dev \
      libprotobuf-c-dev protobuf-c-compiler libjwt-dev libmongoc-dev \
      libbson-dev libyaml-dev libjansson-dev libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# librdkafka first: its layer is cached until the script (pin) changes.
COPY scripts/deps-librdkafka.sh scripts/deps-librdkafka.sh
RUN CALLSIG_CACHE_DIR=/src/.cache scripts/deps-librdkafka.sh \
    && rm -rf /src/.cache/src
COPY CMakeLists.txt ./
COPY proto proto
COPY src src
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCALLSIG_BUILD_TESTS=OFF \
    && cmake --build /build -j"$(nproc)" \
    && /build/callsig --version \
    && ! ldd /build/callsig | grep -q rdkafka

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libprotobuf-c1 libjwt0 libmongoc-1.0-0 libbson-1.0-0 libyaml-0-2 \
      zlib1g libssl3 libzstd1 liblz4-1 libcurl4 libjansson4 libmicrohttpd12 \
      ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/callsig /usr/local/bin/callsig
COPY config/callsig.example.yaml /etc/callsig/callsig.example.yaml
USER nobody
# Configuration comes from CALLSIG_* environment variables (see
# docs/CONFIGURATION.md) or a file given with --config.
ENTRYPOINT ["/usr/local/bin/callsig"]
