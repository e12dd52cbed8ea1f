#!/bin/bash
# Test hosts for kubesmith: systemd Debian hosts as rootful podman containers on an
# internal network, an apt proxy for them, and the local artifact mirror they download from.
#
#   tools/testhosts.sh setup            machine prerequisites, lab network, firewall, apt proxy, mirror server
#   tools/testhosts.sh image            build the test-host image locally (debootstrap, no registry); cached
#   tools/testhosts.sh up NAME IP ...   start hosts (pairs), wait until systemd runs
#   tools/testhosts.sh down NAME ...    remove hosts
#   tools/testhosts.sh clean            remove every ks-* host, the lab network and the services started by setup
#   tools/testhosts.sh info             print the image name, ssh key, mirror URL
set -euo pipefail
# shellcheck source=tools/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

ACNG_DIR=$KS_CACHE/acng
RUN_DIR=$KS_CACHE/run
ROOTFS_PACKAGES=systemd,systemd-sysv,dbus,python3,iproute2,iputils-ping,openssh-server,sudo,procps,kmod,netbase,ca-certificates,curl,less

# The Debian mirror this machine's apt uses (deb822 or one-line sources); the lab uses the same one.
apt_uri() {
  local want=$1
  { sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\).*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true
  } | tr ' ' '\n' | grep '^http' | { if [ "$want" = security ]; then grep -- '-security'; else grep -v -- '-security'; fi; } | head -n1
}

# The image bakes in the ssh key: a new key (another KS_CACHE) means another image.
image_recipe_hash() { { declare -f build_image; echo "$ROOTFS_PACKAGES"; cat "$KS_SSH_KEY.pub" 2>/dev/null || true; } | sha256sum | cut -c1-12; }
image_name() { echo "$KS_IMAGE_PREFIX:bookworm-$(image_recipe_hash)"; }

# alive PIDFILE PATTERN: the process of the pid file runs and is still ours (after a reboot or a machine restore
# the number may belong to another process)
alive() { [ -f "$1" ] && grep -qa -- "$2" "/proc/$(cat "$1")/cmdline" 2>/dev/null; }

# listening PIDFILE PORT WHAT: readiness of a service started in the background - its process listens on PORT
# within 15 s; else it died (typically: the port is taken) and the error names the log and the way out.
listening() {
  local pid deadline=$((SECONDS + 15))
  pid=$(cat "$1")
  until ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$pid,"; do
    if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      tail -n 5 "$4" >&2 || true
      kill "$pid" 2>/dev/null || true
      rm -f "$1"
      ks_die "$3 did not start listening on $KS_GATEWAY:$2 (port in use? ss -ltnp 'sport = :$2'; log: $4)"
    fi
    sleep 0.2  # poll interval of the readiness check
  done
}

setup() {
  ks_apt
  mkdir -p "$RUN_DIR"
  # cgroup v1 "hybrid" machines: podman+runc want every v1 controller mounted.
  if mount | grep -q ' /sys/fs/cgroup type tmpfs (ro'; then mount -o remount,rw /sys/fs/cgroup; fi
  if mount | grep -q ' /sys/fs/cgroup type tmpfs'; then
    for c in hugetlb perf_event net_cls,net_prio; do
      mkdir -p "/sys/fs/cgroup/$c"
      mountpoint -q "/sys/fs/cgroup/$c" || mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" || ks_log "cgroup $c not mountable"
    done
    [ -e /sys/fs/cgroup/net_cls ] || ln -s net_cls,net_prio /sys/fs/cgroup/net_cls
    [ -e /sys/fs/cgroup/net_prio ] || ln -s net_cls,net_prio /sys/fs/cgroup/net_prio
  fi
  # runc (crun refuses hybrid cgroups) and ulimits inside the hard limit (no CAP_SYS_RESOURCE here).
  local nofile; nofile=$(ulimit -Hn)
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<CONF
# written by kubesmith tools/testhosts.sh
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
[engine]
runtime = "runc"
# test hosts are killed, not shut down: a systemd shutting down in one privileged container removes the systemd
# cgroup of the others here (podman exec into them then fails), which breaks scenarios running side by side
stop_timeout = 0
CONF
  podman network exists "$KS_NET" ||
    podman network create --internal --subnet "$KS_PREFIX.0/24" --gateway "$KS_GATEWAY" "$KS_NET" >/dev/null
  # Nothing from the lab is forwarded anywhere but the lab.
  iptables -C FORWARD -s "$KS_PREFIX.0/24" ! -d "$KS_PREFIX.0/24" -j REJECT 2>/dev/null ||
    iptables -I FORWARD -s "$KS_PREFIX.0/24" ! -d "$KS_PREFIX.0/24" -j REJECT
  # The bridge address exists only once a container runs: allow binding to it before that.
  sysctl -qw net.ipv4.ip_nonlocal_bind=1
  start_apt_proxy
  start_mirror
}

start_apt_proxy() {
  local mirror security
  mirror=$(apt_uri main); security=$(apt_uri security)
  [ -n "$mirror" ] || ks_die "no Debian mirror found in this machine's apt sources"
  mkdir -p "$ACNG_DIR/cache" "$ACNG_DIR/log"
  echo "${mirror%/}/" > "$ACNG_DIR/backends_debian"
  local sec_host=${security#*://}
  {
    echo "CacheDir: $ACNG_DIR/cache"
    echo "LogDir: $ACNG_DIR/log"
    echo "SupportDir: /usr/lib/apt-cacher-ng"
    echo "Port: 3142"
    echo "BindAddress: 127.0.0.1 $KS_GATEWAY"
    echo "Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian"
    [ -n "$security" ] && echo "Remap-secdeb: ${sec_host%/} /debian-security ; ${sec_host%/}"
    echo "ForceManaged: 1"
  } > "$ACNG_DIR/acng.conf"
  alive "$RUN_DIR/acng.pid" apt-cacher-ng && return 0
  setsid /usr/sbin/apt-cacher-ng -c "$ACNG_DIR" ForeGround=1 >"$ACNG_DIR/stdout.log" 2>&1 </dev/null &
  echo $! > "$RUN_DIR/acng.pid"
  listening "$RUN_DIR/acng.pid" 3142 "the apt proxy" "$ACNG_DIR/stdout.log"
  ks_log "apt proxy on $KS_GATEWAY:3142 (pid $(cat "$RUN_DIR/acng.pid"))"
}

# Static HTTP server for the artifact mirror, on the lab bridge address only; a second one on the same files for
# Molecule `node`, whose test counts the transfers in its own log (the lanes run scenarios side by side).
start_mirror() {
  mkdir -p "$KS_MIRROR_DIR"
  serve_mirror mirror "$KS_MIRROR_PORT"
  serve_mirror mirror-node "$KS_MIRROR_NODE_PORT"
}
serve_mirror() {  # serve_mirror NAME PORT: pid and log in $RUN_DIR/NAME.pid, NAME.log
  local name=$1 port=$2
  alive "$RUN_DIR/$name.pid" http.server && return 0
  setsid /usr/bin/python3 -m http.server --bind "$KS_GATEWAY" --directory "$KS_MIRROR_DIR" "$port" \
    >>"$RUN_DIR/$name.log" 2>&1 </dev/null &   # append: scenarios write start markers into it
  echo $! > "$RUN_DIR/$name.pid"
  listening "$RUN_DIR/$name.pid" "$port" "the artifact mirror ($name, port $port)" "$RUN_DIR/$name.log"
  ks_log "artifact mirror http://$KS_GATEWAY:$port -> $KS_MIRROR_DIR (pid $(cat "$RUN_DIR/$name.pid"))"
}

build_image() {
  local rootfs=$1 mirror=$2
  debootstrap --variant=minbase --include="$ROOTFS_PACKAGES" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { tail -n 20 "$rootfs.log"; ks_die "debootstrap failed (log: $rootfs.log)"; }
  : > "$rootfs/etc/machine-id"; rm -f "$rootfs/var/lib/dbus/machine-id"
  # Units that only cost time or fail inside a container.
  for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
           dpkg-db-backup.timer systemd-pstore.service getty@.service console-getty.service; do
    chroot "$rootfs" systemctl mask "$u" >/dev/null 2>&1 || true
  done
  install -d -m700 "$rootfs/root/.ssh"
  install -m600 "$KS_SSH_KEY.pub" "$rootfs/root/.ssh/authorized_keys"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs/var/lib/apt/lists/"*
}

ssh_key() {
  [ -f "$KS_SSH_KEY" ] && return 0
  mkdir -p "$(dirname "$KS_SSH_KEY")"; chmod 700 "$(dirname "$KS_SSH_KEY")"
  ssh-keygen -q -t ed25519 -N '' -C kubesmith-testhosts -f "$KS_SSH_KEY"
}

image() {
  ks_apt
  ssh_key
  local name; name=$(image_name)
  if podman image exists "$name"; then
    podman tag "$name" "$KS_IMAGE_PREFIX:bookworm"
    ks_log "image $name cached"; return 0
  fi
  local rootfs=$KS_CACHE/rootfs-$(image_recipe_hash)
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  ks_log "debootstrap $rootfs"
  build_image "$rootfs" "$(apt_uri main)"
  ks_log "podman import $name"
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$name" >/dev/null
  podman tag "$name" "$KS_IMAGE_PREFIX:bookworm"
  rm -rf "$rootfs" "$rootfs.log"
}

up() {
  [ $# -ge 2 ] && [ $(($# % 2)) -eq 0 ] || ks_die "usage: up NAME IP [NAME IP ...]"
  local args=("$@") i name ip
  for ((i = 0; i < ${#args[@]}; i += 2)); do
    name=${args[i]}; ip=${args[i+1]}
    case $name in ks-*) ;; *) ks_die "host names start with ks- (cleanup finds them by name): $name";; esac
    podman container exists "$name" && continue
    # a recycled address may still have the previous container's MAC in this machine's neighbour table
    ip neigh flush to "$ip" 2>/dev/null || true
    # --cgroupns=private: a kubelet inside needs its own cgroup tree on these cgroup-v1 machines
    podman run -d --name "$name" --hostname "$name" --network "$KS_NET" --ip "$ip" --cgroupns=private \
      --systemd=always --privileged -v /var/lib/containerd "$KS_IMAGE_PREFIX:bookworm" /sbin/init >/dev/null
  done
  for ((i = 0; i < ${#args[@]}; i += 2)); do
    name=${args[i]}
    wait_booted "$name"
    podman exec "$name" ip route replace default via "$KS_GATEWAY"
    # prime both neighbour tables (seen here: a new host's replies to this machine lost until it ARPs itself)
    podman exec "$name" ping -c1 -W2 "$KS_GATEWAY" >/dev/null || ks_die "$name cannot reach the lab gateway $KS_GATEWAY"
    podman exec "$name" sh -c "echo 'Acquire::http::Proxy \"http://$KS_GATEWAY:3142\";' > /etc/apt/apt.conf.d/01proxy"
  done
}

# wait_booted NAME: readiness of a new host - its systemd reports running (or degraded: the failed units are
# printed) within 60 s. Right after the start systemctl may answer "offline" or nothing (no bus yet): polled again.
# A host that stopped or never gets there fails with its journal.
wait_booted() {
  local name=$1 state deadline=$((SECONDS + 60))
  while :; do
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    case $state in
      running) return 0 ;;
      degraded) podman exec "$name" systemctl --failed --no-legend >&2 || true; return 0 ;;
    esac
    if [ $SECONDS -ge $deadline ] || [ "$(podman inspect -f '{{.State.Status}}' "$name" 2>/dev/null)" != running ]; then
      podman exec "$name" journalctl -b --no-pager -n 40 >&2 || podman logs --tail 40 "$name" >&2 || true
      ks_die "$name did not finish booting (systemd says: ${state:-nothing})"
    fi
    sleep 0.5  # poll interval of the readiness check
  done
}

down() { for name in "$@"; do podman rm -f -v -t 0 "$name" >/dev/null 2>&1 || true; done; }  # killed: see stop_timeout

clean() {
  local names
  names=$(podman ps -a --format '{{.Names}}' 2>/dev/null | grep '^ks-' || true)
  # shellcheck disable=SC2086
  [ -z "$names" ] || { ks_log "removing hosts: $(echo $names)"; down $names; }
  if podman network exists "$KS_NET" 2>/dev/null; then podman network rm -f "$KS_NET" >/dev/null; fi
  iptables -D FORWARD -s "$KS_PREFIX.0/24" ! -d "$KS_PREFIX.0/24" -j REJECT 2>/dev/null || true
  for svc in mirror:http.server mirror-node:http.server acng:apt-cacher-ng; do
    if alive "$RUN_DIR/${svc%%:*}.pid" "${svc#*:}"; then kill "$(cat "$RUN_DIR/${svc%%:*}.pid")"; fi
    svc=${svc%%:*}
    rm -f "$RUN_DIR/$svc.pid"
  done
}

info() {
  echo "image: $KS_IMAGE_PREFIX:bookworm ($(image_name))"
  echo "network: $KS_NET $KS_PREFIX.0/24 gateway $KS_GATEWAY"
  echo "ssh key: $KS_SSH_KEY"
  echo "mirror: $KS_MIRROR_URL, $KS_MIRROR_NODE_URL for Molecule node ($KS_MIRROR_DIR)"
}

cmd=${1:-}; shift || true
case $cmd in
  setup|image|up|down|clean|info) "$cmd" "$@" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
