# goalgraph API image: a release build on Debian, run as an unprivileged user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY migration ./migration
COPY src ./src
COPY assets ./assets
# Cargo.toml declares the workload bench: the manifest does not load without its source (and
# the query texts it includes).
COPY benches ./benches
COPY tests/fixtures ./tests/fixtures
# Without the embedded development stores: the image always runs on configured ones.
RUN cargo build --release --locked --no-default-features --bin goalgraph

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home goalgraph
COPY --from=build /src/target/release/goalgraph /usr/local/bin/goalgraph
USER goalgraph
WORKDIR /home/goalgraph
EXPOSE 8080
ENV GOALGRAPH_BIND=0.0.0.0:8080
ENTRYPOINT ["goalgraph"]
CMD ["serve"]
