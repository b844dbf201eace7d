# syntax=docker/dockerfile:1
# The hooktap relay as a container image. Build and run (see docs/self-hosting.md):
#
#   docker build -t hooktap-relay .
#   docker run -d --name hooktap-relay -p 8080:8080 -v hooktap-relay:/var/lib/hooktap \
#     -e HOOKTAP_RELAY_TOKENS=change-me hooktap-relay --public-url https://relay.example.com
#
# Arguments after the image name are `hooktap relay` flags.

# --- build: the release binary, with the locked dependency versions ---------------------
FROM rust:1-bookworm AS build
WORKDIR /src
# What `cargo build` reads: the manifest names the benches, so their files must exist.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY assets ./assets
# The registry and target dir are BuildKit cache mounts: a rebuild after a source change
# recompiles hooktap only. The binary is copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin hooktap \
    && cp target/release/hooktap /usr/local/bin/hooktap

# --- runtime: Debian slim (glibc, which the binary links; bash for the health check) -----
FROM debian:bookworm-slim
# A dedicated unprivileged user; the data directory (the offline queue, names) is its home.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/hooktap --create-home \
        --shell /usr/sbin/nologin hooktap
COPY --from=build /usr/local/bin/hooktap /usr/local/bin/hooktap
USER hooktap:hooktap
WORKDIR /var/lib/hooktap
ENV HOOKTAP_LOG=info
EXPOSE 8080
VOLUME ["/var/lib/hooktap"]
# `docker stop` sends SIGTERM, on which the relay (PID 1 here) stops cleanly: tunnels
# closed, connections drained, exit 0.
# The image has no curl: bash's /dev/tcp asks /_hooktap/health on plain HTTP. (With
# --tls-cert the relay speaks only TLS on 8080: drop this with --no-healthcheck, or check
# from outside.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /_hooktap/health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && grep -q '\"status\":\"ok\"' <&3"]
ENTRYPOINT ["hooktap", "relay", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/hooktap"]
CMD []
