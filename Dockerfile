# callsig container image: built on Debian bookworm from the same packages as
# a local build; the runtime stage holds only the shared libraries.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config librdkafka-dev libprotobuf-c-dev \
      protobuf-c-compiler libjwt-dev libmongoc-dev libbson-dev libyaml-dev \
      libcurl4-openssl-dev libjansson-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY proto proto
COPY src src
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCALLSIG_BUILD_TESTS=OFF \
    && cmake --build /build -j"$(nproc)"

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      librdkafka1 libprotobuf-c1 libjwt0 libmongoc-1.0-0 libbson-1.0-0 libyaml-0-2 \
      libcurl4 libjansson4 \
      ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/callsig /usr/local/bin/callsig
COPY config/callsig.example.yaml /etc/callsig/callsig.example.yaml
USER nobody
# Configuration comes from CALLSIG_* environment variables (see
# docs/CONFIGURATION.md) or a file given with --config.
ENTRYPOINT ["/usr/local/bin/callsig"]
