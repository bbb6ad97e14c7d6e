#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages VoxTray needs to run and to be tested, when any is missing.
# Idempotent and quiet when everything is there: `make run` and `make test` call it every time.
set -euo pipefail

# Run time: PortAudio (sounddevice), libsndfile (export), the ALSA->PulseAudio bridge, and the
# libraries Qt's xcb platform plugin loads for the tray app (`make run`).
runtime=(libportaudio2 libsndfile1 libasound2-plugins python3-venv libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libgl1 libegl1 libfontconfig1 libdbus-1-3)
# Tests: a private PulseAudio with a null sink and tools to record and analyse it; a real X
# server with a tray host, input and clipboard tools; a real Secret Service for keyring tests;
# the Qt xcb platform libraries; the validators of the .desktop file and the AppStream data;
# ImageMagick for screenshots of the desktop under test.
testing=(pulseaudio pulseaudio-utils alsa-utils sox xvfb xauth trayer xdotool x11-utils
  x11-xserver-utils xclip xsel dbus dbus-x11 gnome-keyring libsecret-tools libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libgl1 libegl1 libfontconfig1 libdbus-1-3
  desktop-file-utils appstream imagemagick)

wanted=("${runtime[@]}")
if [ "${1:-}" = "--test" ]; then wanted+=("${testing[@]}"); fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "voxtray: not a Debian/Ubuntu system; please install the equivalents of: ${wanted[*]}" >&2
  exit 0
fi

missing=()
for package in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "voxtray: installing system packages: ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "voxtray: please install as root: apt-get install ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
