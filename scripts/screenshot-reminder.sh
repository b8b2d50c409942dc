#!/usr/bin/env bash
# Makes docs/screenshot-reminder.png: the demo workspace's reminders as a real notification
# server (dunst) draws them beside the window, in a throwaway desktop (scripts/with-desktop.sh).
# Needs the debug app (`make build`); installs dunst, xwd and ImageMagick when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${KEYDECK_INSIDE_DESKTOP:-}" != 1 ]; then
  missing=()
  command -v dunst >/dev/null || missing+=(dunst)
  command -v xwd >/dev/null || missing+=(x11-apps)
  [ -x /usr/bin/convert ] || missing+=(imagemagick)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  fi
  exec ./scripts/with-desktop.sh "$0" "$@"
fi
app="${CARGO_TARGET_DIR:-target}/debug/keydeck"
work=$(mktemp -d)
cat >"$work/dunstrc" <<'CONF'
[global]
    origin = top-right
    offset = 176x64
    width = 380
    frame_width = 1
    frame_color = "#c9ccd6"
    font = Sans 10
    padding = 12
    horizontal_padding = 14
    corner_radius = 8
    format = "<b>%s</b>\n%b"
    icon_position = off
    show_indicators = no
[urgency_normal]
    background = "#ffffff"
    foreground = "#1d2230"
    timeout = 0
CONF
dunst -config "$work/dunstrc" >"$work/dunst.log" 2>&1 &
dunst_pid=$!
sleep 1
"$app" --demo >"$work/app.log" 2>&1 &
app_pid=$!
# The demo's keys load, then the first look at reminders shows what needs attention.
for _ in $(seq 60); do
  grep -q "reminder shown" "$work/app.log" && break
  sleep 1
done
sleep 3
xwd -root -silent | /usr/bin/convert xwd:- -crop 720x360+400+0 +repage png:docs/screenshot-reminder.png
kill "$app_pid" "$dunst_pid" 2>/dev/null || true
rm -rf "$work"
echo "docs/screenshot-reminder.png"
