#!/usr/bin/env bash
# Installs what building and testing Keydeck needs on Debian/Ubuntu, and nothing that is
# already there: system packages with apt-get (running `apt-get update` first, once, only when
# something is missing). Safe to run again; prints what it installs.
set -euo pipefail

packages=(
  # building: C for bundled SQLite; the Tauri shell's WebKitGTK stack
  build-essential pkg-config file libssl-dev
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  # the PostgreSQL engine: its tests start a server of their own from this package
  postgresql
  # testing the real window, keychain and clipboard headless
  xvfb xauth dbus dbus-x11 gnome-keyring libsecret-tools webkit2gtk-driver xclip
  # ...and which window has the focus (a second launch brings the first window forward)
  xdotool x11-utils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null || { echo "Rust is missing: install it from https://rustup.rs and run this again." >&2; exit 1; }
command -v npm >/dev/null || { echo "Node.js and npm are missing: install Node 20 or newer and run this again." >&2; exit 1; }
# tauri-driver bridges WebDriver to the app for the end-to-end tests.
command -v tauri-driver >/dev/null || [ -x "$HOME/.cargo/bin/tauri-driver" ] || cargo install tauri-driver --locked
