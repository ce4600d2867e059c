#!/usr/bin/env bash
# Checks the README's two commands on a bare Debian 12: bootstraps a minimal
# bookworm root (debootstrap --variant=minbase), copies the repository into it,
# and, as root inside a chroot, runs ./scripts/demo.sh (installs, builds, must
# answer a chat completion) and then ./scripts/test.sh (both builds and the
# whole suite). A package missing from scripts/debian-packages.txt shows up
# here and not on a developer's machine. Not called by CI: it needs root and
# network access to a Debian mirror and to the npm registry, and it takes
# about half an hour on two busy cores.
#
#   sudo scripts/fresh-check.sh [ROOT_DIR]     (default /var/tmp/switchyard-fresh)
#
# The repository copy is the committed HEAD plus the uncommitted changes under
# scripts/ (what you are checking). Logs, meson's test logs among them, go to
# ROOT_DIR.logs/ (kept). The root is unmounted and deleted at the end, unless
# KEEP=1.
# Environment:
#   MIRROR      Debian mirror (default: the first .../debian URI in apt's sources)
#   DEMO_PORT   port the demo serves on (default 8080, as in the README)
#   KEEP=1      keep the bootstrapped root (reused by the next run)
# CA certificates (/usr/local/share/ca-certificates), NODE_EXTRA_CA_CERTS, the
# proxy variables and npm_config_* are carried into the chroot, so the check
# also works behind a TLS-intercepting proxy.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(realpath -m "${1:-/var/tmp/switchyard-fresh}") # canonical: compared with /proc/*/root and mountinfo
logs="$root.logs"
port=${DEMO_PORT:-8080}
[ "$(id -u)" = 0 ] || { echo "fresh-check: run as root" >&2; exit 2; }
case "$root" in "$repo"|"$repo"/*) echo "fresh-check: $root is inside the repository" >&2; exit 2;; esac

find_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    grep -v -E '^[[:space:]]*#' "$f" | grep -o -E '(https?|ftp)://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' '
  done | head -n1
}
mirror=${MIRROR:-$(find_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}

mounted=0
in_root_pids() { # processes whose root is the chroot (the demo, stray test servers)
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
  done
  return 0
}
stop_in_root() { # signal
  local pids
  mapfile -t pids < <(in_root_pids)
  [ ${#pids[@]} -eq 0 ] || kill "-$1" "${pids[@]}" 2>/dev/null || true
}
# shellcheck disable=SC2317  # called by cleanup
mounts_left() { awk -v r="$root" '$5 == r || index($5, r "/") == 1' /proc/self/mountinfo | grep -q .; }
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  stop_in_root TERM; sleep 2; stop_in_root KILL
  if [ "$mounted" = 1 ]; then
    umount -R "$root/proc" "$root/sys" "$root/dev" 2>/dev/null ||
      umount -R -l "$root/proc" "$root/sys" "$root/dev" 2>/dev/null || true
  fi
  # Never delete through a bind mount of the host's /dev or /sys.
  if [ "${KEEP:-0}" != 1 ] && ! mounts_left; then rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT

mkdir -p "$logs"
if [ ! -x "$root/bin/bash" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap; }
  echo "== debootstrap --variant=minbase bookworm $root $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
    { tail -n 20 "$logs/debootstrap.log"; exit 1; }
fi

# Network and trust, as on the host.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
mkdir -p "$root/etc/ssl" && cp -aL /etc/ssl/certs "$root/etc/ssl/"
envs=(HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
while IFS='=' read -r name _; do
  case "$name" in
    NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY|npm_config_*)
      envs+=("$name=${!name}");;
  esac
done < <(env)

mount -t proc proc "$root/proc"; mounted=1
mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"
in_root() { chroot "$root" /usr/bin/env -i "${envs[@]}" /bin/bash -c "$1"; }

echo "== copy: HEAD of $repo, plus uncommitted changes under scripts/"
rm -rf "$root/root/switchyard" && mkdir -p "$root/root/switchyard"
git -C "$repo" archive HEAD | tar -x -C "$root/root/switchyard"
git -C "$repo" ls-files --modified --others --exclude-standard -- scripts/ | sort -u | while read -r f; do
  if [ -f "$repo/$f" ]; then cp -a "$repo/$f" "$root/root/switchyard/$f"; fi
done

echo "== ./scripts/demo.sh (log: $logs/demo.log)"
in_root "cd /root/switchyard && ./scripts/demo.sh --listen 127.0.0.1:$port" >"$logs/demo.log" 2>&1 &
demo=$!
answer=""
for _ in $(seq 1 900); do # installing and building take minutes
  kill -0 $demo 2>/dev/null || break
  if answer=$(in_root "curl -sf -m 10 127.0.0.1:$port/v1/chat/completions -H 'content-type: application/json' \
        -d '{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'" 2>/dev/null); then break; fi
  sleep 2
done
stop_in_root TERM
wait $demo 2>/dev/null || true
case "$answer" in
  *'"chat.completion"'*) echo "demo: served a chat completion";;
  *) echo "demo: FAILED (no answer); last lines of $logs/demo.log:"; tail -n 20 "$logs/demo.log"; exit 1;;
esac

echo "== ./scripts/test.sh (log: $logs/test.log)"
status=0
in_root "cd /root/switchyard && ./scripts/test.sh" >"$logs/test.log" 2>&1 || status=$?
for d in build-test build-asan; do # meson's full logs outlive the root
  t="$root/root/switchyard/$d/meson-logs/testlog.txt"
  [ ! -f "$t" ] || cp "$t" "$logs/$d-testlog.txt"
done
grep -E '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT|ERROR)' "$logs/test.log" || true
tail -n 1 "$logs/test.log"
exit $status
