# A small image with the runbook binary and the OpenSSH client it drives.
#   docker build -t runbook .
#   docker run --rm -v "$PWD:/work" -w /work runbook lint runbooks
# Build stage: the toolchain, the locked dependencies, a stripped release binary.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked

# Final stage: Debian slim with openssh-client (ssh, ssh-keygen for signed timelines) and bash
# (scripts run as `bash -eo pipefail`); no toolchain, runs as an unprivileged user.
FROM debian:bookworm-slim
# Debian stable's security updates replace exact versions: pinning them breaks rebuilds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 runbook
COPY --from=build /src/target/release/runbook /usr/local/bin/runbook
USER 10001
WORKDIR /work
ENTRYPOINT ["runbook"]
CMD ["--help"]
