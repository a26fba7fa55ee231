# The patchline image: one multi-call binary that is the Concourse resource
# (/opt/resource/check, in, out) and the task commands (apply, smoke-test).
#
#   docker build -t patchline .
#
# Where no registry is reachable, build the two base images locally with
# .ci/image/base-images.sh and pass them as RUST_IMAGE and BASE_IMAGE
# (docs/image.md). Every step works with the classic builder and BuildKit.

ARG RUST_IMAGE=rust:1-bookworm
ARG BASE_IMAGE=debian:bookworm-slim

# Only the manifests, with empty sources: this stage's output changes when a
# Cargo.toml or Cargo.lock changes, so the dependency layer built from it is
# reused across edits of the code.
FROM ${RUST_IMAGE} AS manifests
LABEL dev.patchline.image.stage=manifests
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
RUN set -eu; \
    mkdir /skeleton; \
    cp Cargo.toml Cargo.lock /skeleton/; \
    for dir in crates/*/; do \
        mkdir -p "/skeleton/${dir}src"; \
        cp "${dir}Cargo.toml" "/skeleton/${dir}"; \
        if [ -f "${dir}build.rs" ]; then cp "${dir}build.rs" "/skeleton/${dir}"; fi; \
        : > "/skeleton/${dir}src/lib.rs"; \
        echo 'fn main() {}' > "/skeleton/${dir}src/main.rs"; \
    done

FROM ${RUST_IMAGE} AS builder
LABEL dev.patchline.image.stage=builder
WORKDIR /src
COPY --from=manifests /skeleton ./
# Compiling the dependencies is most of the build time, so it gets a layer
# of its own. Fetching must succeed (a network failure must not be cached);
# compiling against the empty crates may fail for a manifest that names a
# source file the skeleton lacks, which only costs this warm-up: the full
# build below is the one that counts.
RUN cargo fetch --locked \
    && { cargo build --release --locked --offline --bin patchline \
         || echo "dependency warm-up skipped; the full build compiles everything" >&2; } \
    && rm -rf crates
# The whole context (.dockerignore leaves out target/ and .git): the code
# embeds files from outside crates/, such as the task configs.
COPY . .
# The copied sources may be older than the warm-up's empty crates; touching
# them makes cargo rebuild every workspace crate from the real code.
RUN find crates -type f -exec touch {} + \
    && cargo build --release --locked --offline --bin patchline \
    && install -m 0755 target/release/patchline /patchline

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="patchline" \
      org.opencontainers.image.description="Concourse resource and tasks for patch releases of products and stemcells"
# git and ssh write the ledger; the certificates verify HTTPS feeds. A base
# image that already has them needs no package index (nor network).
RUN if command -v git >/dev/null && command -v ssh >/dev/null \
        && [ -s /etc/ssl/certs/ca-certificates.crt ]; then \
        echo "base image has git, ssh and certificates"; \
    else \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            ca-certificates git openssh-client \
        && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=builder /patchline /usr/local/bin/patchline
# Concourse runs the resource as /opt/resource/{check,in,out}; tasks run
# apply and smoke-test from PATH. The name started picks the command.
RUN mkdir -p /opt/resource \
    && for command in check in out; do \
        ln -sf /usr/local/bin/patchline "/opt/resource/$command"; \
    done \
    && ln -sf /usr/local/bin/patchline /usr/local/bin/apply \
    && ln -sf /usr/local/bin/patchline /usr/local/bin/smoke-test
