#!/usr/bin/env bash
# Installs CityGate on a Debian edge box: the citygate user, the binary, /etc/citygate (configuration, device
# profiles, alert rules, secrets file), the data directory /var/lib/citygate, the systemd unit, the mosquitto
# configuration with its ACL and password file, and mosquitto's drop-in; then enables both services.
#
#   sudo edge/install.sh                       # build (swift build -c release) and install under /usr/local
#   edge/install.sh --dry-run                  # print what would be done, change nothing
#   edge/install.sh --destdir /tmp/stage --binary .build/debug/citygate   # stage a tree, no root needed
#
# Options:
#   --dry-run          print every action instead of doing it
#   --prefix DIR       where bin/ and share/ go (default /usr/local)
#   --destdir DIR      stage everything under DIR (also DESTDIR=DIR); no user, no chown, no systemctl
#   --binary PATH      install this citygate binary instead of building one
#   --no-enable        do not run systemctl (enable/daemon-reload)
#   --start            also (re)start the services after enabling them
#
# Idempotent: run it again to upgrade. The binary, units, shipped profiles/rules under PREFIX/share/citygate and
# the documentation are replaced; what the operator owns is never overwritten: /etc/citygate/gateway.yaml (the
# new default is written beside it as gateway.yaml.dist), citygate.env, the profiles/ and rules/ directories
# (filled on the first install only), the mosquitto ACL and password file, and the data directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix=/usr/local
destdir="${DESTDIR:-}"
binary=""
dry_run=0
enable=1
start=0

while (($#)); do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --prefix) prefix="${2:?--prefix needs a directory}"; shift ;;
        --prefix=*) prefix="${1#--prefix=}" ;;
        --destdir) destdir="${2:?--destdir needs a directory}"; shift ;;
        --destdir=*) destdir="${1#--destdir=}" ;;
        --binary) binary="${2:?--binary needs a path}"; shift ;;
        --binary=*) binary="${1#--binary=}" ;;
        --no-enable) enable=0 ;;
        --start) start=1 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be an absolute path, found '$prefix'" >&2; exit 2 ;; esac
if [ -n "$destdir" ] && [ "$dry_run" = 0 ]; then
    mkdir -p "$destdir" || { echo "install.sh: cannot create DESTDIR '$destdir'" >&2; exit 2; }
    destdir="$(cd "$destdir" && pwd)"
fi

etc="$destdir/etc/citygate"
data="$destdir/var/lib/citygate"
bindir="$destdir$prefix/bin"
share="$destdir$prefix/share/citygate"
docdir="$destdir$prefix/share/doc/citygate"
units="$destdir/etc/systemd/system"
mosq="$destdir/etc/mosquitto/citygate"
# Only a real install (no DESTDIR, as root) creates users, changes owners and talks to systemd.
real=0
[ -z "$destdir" ] && [ "$(id -u)" -eq 0 ] && real=1
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ] && [ "$dry_run" = 0 ]; then
    echo "install.sh: run as root (or give --destdir to stage a tree, or --dry-run)" >&2
    exit 1
fi

say() { echo "install: $*"; }
run() {
    if [ "$dry_run" = 1 ]; then echo "would: $*"; else "$@"; fi
}
# install_file MODE SRC DEST: copies when missing or different.
install_file() {
    local mode="$1" src="$2" dest="$3"
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        say "unchanged $dest"
        return
    fi
    run install -D -m "$mode" "$src" "$dest"
    [ "$dry_run" = 1 ] || say "installed $dest"
}
# keep_file MODE SRC DEST: the operator's file; written only when missing.
keep_file() {
    local mode="$1" src="$2" dest="$3"
    if [ -e "$dest" ]; then
        say "kept $dest (yours)"
        return
    fi
    run install -D -m "$mode" "$src" "$dest"
    [ "$dry_run" = 1 ] || say "installed $dest"
}
owner() {  # owner USER:GROUP PATH...
    [ "$real" = 1 ] && run chown "$@"
    return 0
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. The binary.
if [ -z "$binary" ]; then
    command -v swift >/dev/null || { echo "install.sh: swift is not on PATH; build elsewhere and pass --binary" >&2; exit 1; }
    say "building: swift build -c release --product citygate"
    run bash -c "cd '$repo' && swift build -c release --product citygate"
    binary="$repo/.build/release/citygate"
fi
[ "$dry_run" = 1 ] || [ -x "$binary" ] || { echo "install.sh: no executable at '$binary'" >&2; exit 1; }

# 2. The user (system account, no login, home = data directory).
if [ "$real" = 1 ]; then
    if getent passwd citygate >/dev/null; then
        say "user citygate exists"
    else
        run useradd --system --user-group --home-dir /var/lib/citygate --no-create-home --shell /usr/sbin/nologin citygate
        say "created user citygate"
    fi
else
    say "skipping the citygate user and file owners (staged install)"
fi

# 3. Files.
run install -d -m 0755 "$bindir" "$share" "$docdir"
if [ -x "$binary" ]; then
    install_file 0755 "$binary" "$bindir/citygate"
else
    run install -m 0755 "$binary" "$bindir/citygate"
fi

# Shipped profiles and rules: always the current ones under share/; /etc copies only on the first install.
run rm -rf "$share/device-profiles" "$share/rules"
run cp -R "$repo/device-profiles" "$share/device-profiles"
run cp -R "$repo/configs/rules" "$share/rules"
run install -d -m 0755 "$etc"
for d in profiles rules; do
    src="$repo/device-profiles"
    [ "$d" = rules ] && src="$repo/configs/rules"
    if [ -d "$etc/$d" ]; then
        say "kept $etc/$d (yours; shipped versions in $share)"
    else
        run cp -R "$src" "$etc/$d"
        [ "$dry_run" = 1 ] || say "installed $etc/$d"
    fi
done

# The configuration: the repository's, with box paths and the gateway's MQTT user.
sed -e 's#^data_dir: .*#data_dir: /var/lib/citygate#' \
    -e 's#^profiles_dir: .*#profiles_dir: /etc/citygate/profiles#' \
    -e 's#^  \# rules_dir: .*#  rules_dir: /etc/citygate/rules#' \
    -e 's#^  \# username: citygate#  username: citygate#' \
    "$repo/configs/gateway.yaml" > "$work/gateway.yaml"
install_file 0644 "$work/gateway.yaml" "$etc/gateway.yaml.dist"
keep_file 0640 "$work/gateway.yaml" "$etc/gateway.yaml"

# Secrets: a random password for the gateway's broker user, in the env file (0640, group citygate) and the
# broker's password file. Both only on the first install.
password="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
cat > "$work/citygate.env" <<EOF
# Secrets and overrides for citygate.service (CITYGATE_<SECTION>_<KEY>, docs/operations.md). Mode 0640.
CITYGATE_MQTT_PASSWORD=$password
# CITYGATE_HTTP_CTWING_TOKEN=
# CITYGATE_HTTP_ONENET_TOKEN=
# CITYGATE_ALERTS_WEBHOOKS_<NAME>_SECRET=
# CITYGATE_FORWARDER_SINKS_<NAME>_TOKEN=
EOF
new_env=0
[ -e "$etc/citygate.env" ] || new_env=1
keep_file 0640 "$work/citygate.env" "$etc/citygate.env"
owner root:citygate "$etc/citygate.env" "$etc/gateway.yaml"
# The API writes activated profile and rule versions into these (docs/api.md).
owner -R citygate:citygate "$etc/profiles" "$etc/rules"

# 4. Data directory.
run install -d -m 0750 "$data"
owner citygate:citygate "$data"

# 5. systemd units: ours with the prefix's binary, and mosquitto's drop-in.
sed -e "s#/usr/local/bin/citygate#$prefix/bin/citygate#" -e "s#/usr/local/share/doc/citygate#$prefix/share/doc/citygate#" \
    "$repo/edge/citygate.service" > "$work/citygate.service"
install_file 0644 "$work/citygate.service" "$units/citygate.service"
install_file 0644 "$repo/edge/mosquitto.service.d/citygate.conf" "$units/mosquitto.service.d/citygate.conf"

# 6. mosquitto: configuration (ours), ACL and password file (the operator's after the first install).
install_file 0644 "$repo/edge/mosquitto.conf" "$mosq/mosquitto.conf"
keep_file 0640 "$repo/edge/mosquitto.acl" "$mosq/acl"
if [ -e "$mosq/passwd" ]; then
    say "kept $mosq/passwd (yours)"
elif [ "$new_env" = 1 ]; then
    if command -v mosquitto_passwd >/dev/null; then
        run install -d -m 0755 "$mosq"
        run touch "$mosq/passwd"
        run chmod 0640 "$mosq/passwd"
        if [ "$dry_run" = 1 ]; then
            echo "would: mosquitto_passwd -b $mosq/passwd citygate <the password in citygate.env>"
        else
            mosquitto_passwd -b "$mosq/passwd" citygate "$password"
        fi
        say "installed $mosq/passwd (user citygate; add devices with mosquitto_passwd -b $mosq/passwd <device-id> <password>)"
    else
        say "mosquitto_passwd not found: create $mosq/passwd with the citygate user and the password in $etc/citygate.env"
    fi
fi
owner root:mosquitto "$mosq/acl" "$mosq/passwd" 2>/dev/null || true
say "TLS for the device listener: put ca.crt, server.crt and server.key in $mosq (server.key readable by mosquitto)"

install_file 0644 "$repo/docs/operations.md" "$docdir/operations.md"

# 7. Enable.
if [ "$real" = 1 ] && [ "$enable" = 1 ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    run systemctl daemon-reload
    run systemctl enable mosquitto.service citygate.service
    if [ "$start" = 1 ]; then run systemctl restart mosquitto.service citygate.service; fi
    say "enabled mosquitto.service and citygate.service"
else
    say "not enabling services (staged install, --no-enable, or no running systemd)"
fi
say "done"
