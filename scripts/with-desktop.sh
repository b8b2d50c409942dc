#!/usr/bin/env bash
# Runs a command in a throwaway desktop session: an Xvfb display, a private D-Bus session and
# an unlocked gnome-keyring, with XDG_DATA_HOME and XDG_RUNTIME_DIR in a fresh temporary
# directory so nothing touches the user's real keyring. Sets KEYDECK_REAL_DESKTOP=1 so tests
# of the real keychain and clipboard run.
set -euo pipefail
if [ "${KEYDECK_INSIDE_DESKTOP:-}" != 1 ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  mkdir -p "$scratch/data" "$scratch/runtime"
  chmod 700 "$scratch/runtime"
  export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/runtime" KEYDECK_INSIDE_DESKTOP=1
  exec xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- "$0" "$@"
fi
eval "$(printf %s keydeck-test-keyring | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL KEYDECK_REAL_DESKTOP=1
"$@"
