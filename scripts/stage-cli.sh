#!/usr/bin/env bash
# Builds the release `kdk` and puts it, its man page and its shell completions (made at build
# time by crates/cli/build.rs, carried in the binary) in artifacts/cli, where the .deb's file
# list (src-tauri/tauri.conf.json, bundle > linux > deb > files) takes them from.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p keydeck-cli --locked
out=artifacts/cli
mkdir -p "$out"
cp "$target/release/kdk" "$out/kdk"
"$out/kdk" man | gzip -9n > "$out/kdk.1.gz"
"$out/kdk" completions bash > "$out/kdk.bash"
"$out/kdk" completions zsh > "$out/_kdk"
"$out/kdk" completions fish > "$out/kdk.fish"
echo "kdk staged in $out"
