#!/usr/bin/env bash
# Local base images: create the two images the patchline Dockerfile builds
# from (RUST_IMAGE and BASE_IMAGE) on a machine that reaches no container
# registry, from a Debian mirror and the host's own Rust toolchain.
#
# Usage: .ci/image/base-images.sh
#
# Prints nothing on stdout but the two image names, as build arguments:
#   RUST_IMAGE=patchline-local/rust:bookworm
#   BASE_IMAGE=patchline-local/debian:bookworm
#
# Each image carries a label with a hash of its recipe (this script, and
# for the Rust image the host toolchain's version). An image whose label
# matches is reused, so a second run takes a second; a changed script or
# toolchain rebuilds it and removes the image it replaces.
#
# Environment:
#   PATCHLINE_RUST_IMAGE  name of the build image (patchline-local/rust:bookworm)
#   PATCHLINE_BASE_IMAGE  name of the runtime image (patchline-local/debian:bookworm)
#   DEBIAN_MIRROR         Debian mirror for debootstrap (http://deb.debian.org/debian)
#   PATCHLINE_BUILD_CA_BUNDLE
#                         CA bundle the build image trusts when cargo fetches
#                         crates (/etc/ssl/certs/ca-certificates.crt: the host's)
#
# Needs: root (debootstrap), debootstrap, docker, rustc and cargo on PATH.
set -euo pipefail

rust_image=${PATCHLINE_RUST_IMAGE:-patchline-local/rust:bookworm}
base_image=${PATCHLINE_BASE_IMAGE:-patchline-local/debian:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
label=dev.patchline.base-image.recipe

log() { printf 'base-images: %s\n' "$*" >&2; }
fail() { log "error: $*"; exit 1; }

for tool in docker debootstrap rustc cargo sha256sum flock tar; do
    command -v "$tool" >/dev/null || fail "$tool is not on PATH"
done
[ "$(id -u)" = 0 ] || fail "debootstrap needs root; run this script as root"

script_hash=$(sha256sum "$(readlink -f "${BASH_SOURCE[0]}")" | cut -d' ' -f1)
sysroot=$(rustc --print sysroot)
host_triple=$(rustc -vV | sed -n 's/^host: //p')
toolchain="$(rustc -V) / $(cargo -V)"
ca_bundle=${PATCHLINE_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca_bundle" ] || fail "CA bundle $ca_bundle is missing or empty (PATCHLINE_BUILD_CA_BUNDLE)"
ca_hash=$(sha256sum "$ca_bundle" | cut -d' ' -f1)
base_recipe=$script_hash
rust_recipe=$(printf '%s\n%s\n%s\n' "$script_hash" "$toolchain" "$ca_hash" | sha256sum | cut -d' ' -f1)

# Two runs at once (a developer and the test suite) would debootstrap the
# same image twice and race on the tag; the second waits and then reuses.
exec 9>"${TMPDIR:-/tmp}/patchline-base-images.lock"
flock 9

work=
cleanup() { if [ -n "$work" ]; then rm -rf "$work"; fi; }
trap cleanup EXIT

recipe_of() {
    docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true
}

# debootstrap_into DIR PACKAGES: a minimal Debian root file system in DIR.
debootstrap_into() {
    local dir=$1 packages=$2
    log "debootstrap $suite (+ $packages) from $mirror"
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" \
        >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        fail "debootstrap failed (log above)"
    fi
    # Package caches only make the image larger; apt-get update refills them.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
}

# copy_toolchain DIR: rustc, cargo and the standard library of the host
# toolchain into DIR/usr/local/rust, file by file as their component
# manifests list them (documentation and other components stay behind).
copy_toolchain() {
    local dest=$1/usr/local/rust component manifest
    mkdir -p "$dest"
    for component in rustc cargo rust-std; do
        manifest=$sysroot/lib/rustlib/manifest-$component-$host_triple
        [ -f "$manifest" ] || fail "$manifest is missing: the host toolchain lacks $component"
        sed -n 's/^file://p' "$manifest" | tar -C "$sysroot" -cf - -T - | tar -C "$dest" -xf -
    done
}

# ensure NAME RECIPE PACKAGES WITH_RUST SMOKE_COMMAND
ensure() {
    local name=$1 recipe=$2 packages=$3 with_rust=$4 smoke=$5 old_id new_id
    if [ "$(recipe_of "$name")" = "$recipe" ]; then
        log "reusing $name"
        return
    fi
    old_id=$(docker image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)

    work=$(mktemp -d)
    debootstrap_into "$work/rootfs" "$packages"
    local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    local changes=(--change "LABEL $label=$recipe" --change 'CMD ["/bin/bash"]')
    if [ "$with_rust" = yes ]; then
        copy_toolchain "$work/rootfs"
        # cargo fetches crates during the image build, where nothing can be
        # mounted; trusting the host's authorities lets that work behind a
        # TLS-inspecting proxy the host is set up for.
        cp "$ca_bundle" "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
        changes+=(--change "ENV PATH=/usr/local/rust/bin:$path" --change 'ENV CARGO_HOME=/usr/local/cargo')
    else
        changes+=(--change "ENV PATH=$path")
    fi

    log "importing $name"
    tar -C "$work/rootfs" -c . | docker import "${changes[@]}" - "$name" >/dev/null
    rm -rf "$work"
    work=

    # A broken toolchain copy or package set shows here, not in the middle
    # of the first image build.
    docker run --rm --network none "$name" sh -c "$smoke" >&2 \
        || fail "$name does not run: $smoke"

    new_id=$(docker image inspect --format '{{.Id}}' "$name")
    if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
        # Containers may still use the replaced image; then it stays.
        docker rmi "$old_id" >/dev/null 2>&1 || log "kept replaced image $old_id (still in use)"
    fi
    log "built $name"
}

ensure "$base_image" "$base_recipe" git,ca-certificates,openssh-client no \
    'git --version && ssh -V && test -s /etc/ssl/certs/ca-certificates.crt'
ensure "$rust_image" "$rust_recipe" ca-certificates,gcc,libc6-dev yes \
    'cargo --version && rustc --version && cc --version | head -n 1'

printf 'RUST_IMAGE=%s\nBASE_IMAGE=%s\n' "$rust_image" "$base_image"
