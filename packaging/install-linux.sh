#!/usr/bin/env bash
# Installs VoxTray's desktop integration for the current user: the launcher (.desktop), the
# AppStream metadata and the icons, under ${XDG_DATA_HOME:-~/.local/share}. No root needed.
#
#   packaging/install-linux.sh                 install; the launcher runs the best VoxTray found
#   packaging/install-linux.sh --exec PATH     install; the launcher runs PATH
#   packaging/install-linux.sh --uninstall     remove what an install put there
#
# The launcher runs, in this order of preference: --exec, the frozen app (dist/voxtray/voxtray
# after `make package`), the virtual environment's `voxtray` (after `make run`), or `voxtray`
# on PATH. `make install-desktop` calls this script.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
desktop_file=$(ls "$root"/resources/linux/*.desktop)
app_id=$(basename "$desktop_file" .desktop)
command=""
uninstall=0

while [ $# -gt 0 ]; do
  case "$1" in
    --exec) command=${2:?--exec needs a path}; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-linux.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

installed=("$data/applications/$app_id.desktop" "$data/metainfo/$app_id.metainfo.xml")
for icon in "$root"/resources/icons/hicolor/*/apps/"$app_id".*; do
  size=$(basename "$(dirname "$(dirname "$icon")")")
  installed+=("$data/icons/hicolor/$size/apps/$(basename "$icon")")
done

refresh() {
  if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$data/applications" 2>/dev/null || true
  fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
  fi
}

if [ "$uninstall" -eq 1 ]; then
  rm -f "${installed[@]}"
  refresh
  echo "VoxTray's desktop integration was removed from $data."
  exit 0
fi

if [ -z "$command" ]; then
  if [ -x "$root/dist/voxtray/voxtray" ]; then command="$root/dist/voxtray/voxtray"
  elif [ -x "$root/.venv/bin/voxtray" ]; then command="$root/.venv/bin/voxtray"
  else command=voxtray
  fi
fi
case "$command" in
  *[\"\`\$\\\|\&]*) echo "install-linux.sh: the path may not contain \" \` \$ \\ | or &: $command" >&2; exit 2 ;;
esac

mkdir -p "$data/applications" "$data/metainfo"
# Every Exec line starts with `voxtray`; point it at the command, quoted (Desktop Entry spec).
sed "s|^Exec=voxtray|Exec=\"$command\"|" "$desktop_file" > "$data/applications/$app_id.desktop.tmp"
mv "$data/applications/$app_id.desktop.tmp" "$data/applications/$app_id.desktop"
install -m 644 "$root/resources/linux/$app_id.metainfo.xml" "$data/metainfo/"
for icon in "$root"/resources/icons/hicolor/*/apps/"$app_id".*; do
  size=$(basename "$(dirname "$(dirname "$icon")")")
  install -D -m 644 "$icon" "$data/icons/hicolor/$size/apps/$(basename "$icon")"
done
refresh
echo "VoxTray is in the applications menu (it runs $command)."
