# shellcheck shell=bash
# Sourced by tools/*: one place that knows where things live and installs what is missing.
# Idempotent and quick when everything is present; safe on a fresh Debian machine as root.
KS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KS_CACHE=${KS_CACHE:-/var/cache/kubesmith}
KS_NET=${KS_NET:-kubesmith-lab}
KS_PREFIX=${KS_PREFIX:-10.127.0}            # lab /24; .1 is this machine's side of the bridge
KS_GATEWAY=$KS_PREFIX.1
KS_MIRROR_DIR=${KS_MIRROR_DIR:-$KS_CACHE/mirror}
KS_MIRROR_PORT=${KS_MIRROR_PORT:-8080}
KS_MIRROR_URL=http://$KS_GATEWAY:$KS_MIRROR_PORT
# the same mirror through a second port with a log of its own: Molecule `node` counts the transfers it caused, while
# the other lane's scenario downloads the same files through the first
KS_MIRROR_NODE_PORT=${KS_MIRROR_NODE_PORT:-$((KS_MIRROR_PORT + 1))}
KS_MIRROR_NODE_URL=http://$KS_GATEWAY:$KS_MIRROR_NODE_PORT
KS_SSH_KEY=$KS_CACHE/ssh/id_ed25519
KS_IMAGE_PREFIX=localhost/kubesmith-testhost
export KS_ROOT KS_CACHE KS_NET KS_PREFIX KS_GATEWAY KS_MIRROR_DIR KS_MIRROR_PORT KS_MIRROR_URL KS_MIRROR_NODE_PORT
export KS_MIRROR_NODE_URL KS_SSH_KEY
export DEBIAN_FRONTEND=noninteractive

ks_log() { printf '[%(%T)T] %s\n' -1 "$*" >&2; }
ks_die() { ks_log "ERROR: $*"; exit 1; }

# apt packages this project needs on the machine that runs the tests / the lab.
KS_APT_PACKAGES=(podman runc debootstrap apt-cacher-ng jq iptables iproute2 openssl openssh-client curl python3-venv)

ks_apt() {
  local missing=()
  for p in "${KS_APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  ks_log "apt install ${missing[*]}"
  apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
  apt-get -y -q -o DPkg::Lock::Timeout=600 install "${missing[@]}" >/dev/null
}

# Python venv outside the clone, keyed by the requirements files: a rerun reuses it.
ks_venv() {
  local key
  key=$(cat "$KS_ROOT"/requirements{,-dev,-lab}.txt | sha256sum | cut -c1-12)
  KS_VENV=$KS_CACHE/venv-$key
  if [ ! -f "$KS_VENV/.complete" ]; then   # marker written last: an interrupted install is redone
    ks_log "python venv $KS_VENV"
    rm -rf "$KS_VENV"
    python3 -m venv "$KS_VENV"
    "$KS_VENV/bin/pip" install -q -r "$KS_ROOT/requirements-dev.txt"
    touch "$KS_VENV/.complete"
  fi
  export KS_VENV PATH="$KS_VENV/bin:$PATH"
}

# The checkout is the collection: expose it as ansible_collections/kubesmith/cluster.
ks_collection_link() {
  mkdir -p "$KS_ROOT/.collections/ansible_collections/kubesmith"
  ln -sfn ../../.. "$KS_ROOT/.collections/ansible_collections/kubesmith/cluster"
  export ANSIBLE_CONFIG=$KS_ROOT/ansible.cfg
  export ANSIBLE_COLLECTIONS_PATH=$KS_ROOT/.collections
}

ks_env() { ks_apt "$@"; ks_venv; ks_collection_link; }

# KS_MITOGEN=1: run playbooks with the Mitogen strategy (PyPI mitogen, in the dev venv).
ks_mitogen() {
  [ "${KS_MITOGEN:-0}" = 1 ] || return 0
  local dir
  dir=$("$KS_VENV/bin/python" -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')
  export ANSIBLE_STRATEGY_PLUGINS=$dir/plugins/strategy ANSIBLE_STRATEGY=mitogen_linear
}
