#!/usr/bin/env bash
# Build the local artifact mirror that the tests (and air-gapped installs) use instead of the internet.
#
# The mirror is laid out like the upstream download URLs with the scheme stripped, so the download
# role maps https://<host>/<path> to <mirror>/<host>/<path>. Contents come from Debian's packages
# (apt-get download + dpkg-deb -x: bookworm's, and trixie's for the next etcd and containerd minors)
# and from bookworm's kubernetes source package, in the upstream release layout:
#   github.com/containerd/containerd/releases/download/v<V>/containerd-<V>-linux-amd64.tar.gz[.sha256sum]
#                                      1.6 from bookworm, 1.7 from trixie
#   github.com/opencontainers/runc/releases/download/v<V>/runc.amd64, runc.sha256sum
#   github.com/containernetworking/plugins/releases/download/v<V>/cni-plugins-linux-amd64-v<V>.tgz[.sha256]
#   github.com/etcd-io/etcd/releases/download/v<V>/etcd-v<V>-linux-amd64.tar.gz, SHA256SUMS
#                                      3.4 from bookworm, 3.5 from trixie (with etcdutl when packaged)
#   images/pause-3.2.tar[.sha256]      registry.k8s.io/pause:3.2, our own pause.c built with gcc -static
#   images/busybox-<M.m>.tar[.sha256]  localhost/kubesmith/busybox:<M.m>, from busybox-static
#   dl.k8s.io/release/v<V>/bin/linux/amd64/<binary>[.sha256]   group kubernetes: kube-apiserver,
#                                      kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl;
#                                      v1.20.2 and v1.20.2+kubesmith.1 (same source, only the stamp differs)
#   index.txt                          "<sha256>  <path>" for every file (sha256sum -c index.txt works)
#
# Usage:
#   tools/build-artifacts.sh [all|containerd|etcd|images|kubernetes]...
#                                   build what is missing (default: all = containerd etcd images)
#   tools/build-artifacts.sh verify [all|containerd|etcd|images|kubernetes]...
#                                   unpack and run every artifact in the mirror, check the checksums
#   tools/build-artifacts.sh pins [PATH...]
#                                   print download_pins (YAML) for these mirror paths (default: every file
#                                   but the checksum files) from index.txt: run it right after a build and
#                                   keep the output with the inventory (pins taken later from a mirror you
#                                   no longer trust prove nothing)
#   tools/build-artifacts.sh needs PATH...
#                                   build the groups that make these mirror paths (e.g. the list
#                                   playbooks/artifacts.yml derives from an inventory), then fail naming
#                                   every path that is still missing (a version no recipe here builds)
#   Group kubernetes is not part of "all": name it. Cold it takes minutes (Go compile of the Kubernetes
#   server binaries on every core at nice 19); with its Go build cache in the work dir, seconds to a minute.
# Environment:
#   KUBESMITH_MIRROR_DIR        output tree (default $KS_MIRROR_DIR, else /var/cache/kubesmith/mirror)
#   KUBESMITH_ARTIFACT_WORK_DIR downloaded .debs and sources, private apt lists, the Kubernetes source tree
#                               and Go build cache, scratch space (default /var/cache/kubesmith/artifact-work)
#   KUBESMITH_PYTHON            Python 3 for tools/mkimage.py (default python3)
# The private apt lists (<work dir>/apt) are refreshed after 7 days; rm <work dir>/apt/updated forces it.
#
# Each artifact is rebuilt only when missing or when its key changed: upstream version, Debian package
# version(s) and a hash of the shell functions (and tools/mkimage.py) that make it, stored in
# <mirror>/.recipes/<artifact>.recipe. A rerun with everything in place prints "cached" and takes seconds.
# Runs as root on Debian bookworm (amd64); installs what it uses (gcc, libc6-dev, golang-go) with apt.
# Trixie's packages and bookworm's sources come through a private apt configuration in the work dir
# (own sources list, lists and cache, mirror URL taken from this machine's apt sources); /etc/apt is
# never changed.
set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MKIMAGE=$SCRIPT_DIR/mkimage.py
# KS_MIRROR_DIR / KS_CACHE: the names tools/lib/env.sh exports, so tools/test and testhosts.sh agree
MIRROR=${KUBESMITH_MIRROR_DIR:-${KS_MIRROR_DIR:-${KS_CACHE:-/var/cache/kubesmith}/mirror}}
WORK=${KUBESMITH_ARTIFACT_WORK_DIR:-${KS_CACHE:-/var/cache/kubesmith}/artifact-work}
PY=${KUBESMITH_PYTHON:-python3}
PAUSE_VERSION=3.2
PAUSE_REF=registry.k8s.io/pause:$PAUSE_VERSION
BUSYBOX_REPO=localhost/kubesmith/busybox
ARCH=amd64
GROUPS_ALL=(containerd etcd images)
GROUPS_NAMED=(kubernetes) # built and verified only when named
DEB_PACKAGES=(containerd runc containernetworking-plugins etcd-server etcd-client busybox-static)
# The next minors come from trixie's packages (upgrade tests: containerd 1.6 -> 1.7, etcd 3.4 -> 3.5).
# runc stays bookworm's: trixie's needs a newer glibc than bookworm has.
CONTAINERD_NEXT_MINOR=1.7
ETCD_NEXT_MINOR=3.5
# Kubernetes server binaries from bookworm's source package, built twice: as upstream's version and
# stamped with a build tag (v1.20.2+kubesmith.1: same code, the version an upgrade test moves to).
K8S_SOURCE=kubernetes
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
K8S_BUILD_TAG=kubesmith.1
# Which group makes a mirror path: "<path prefix> <group>" (the layout above).
PATH_GROUPS=(
  "github.com/containerd/containerd/releases/download/ containerd"
  "github.com/opencontainers/runc/releases/download/ containerd"
  "github.com/containernetworking/plugins/releases/download/ containerd"
  "github.com/etcd-io/etcd/releases/download/ etcd"
  "images/ images"
  "dl.k8s.io/release/ kubernetes"
)
PRIVATE_APT=$WORK/apt
PRIVATE_APT_MAX_AGE_DAYS=7

APT_UPDATED=0
PRIVATE_APT_READY=0
PRIVATE_APT_UPDATED=0
SUMMARY=()    # "status|artifact|version|debian version|path"
BUILT_GROUPS=()
BUILT_NAMES=()
TMP_DIRS=()
VERIFY_PIDS=()
CLEANUP_FNS=()
VERIFY_STRICT=1
VERIFY_FAILURES=0

say() { printf '%s\n' "$*"; }
die() {
  printf 'build-artifacts.sh: error: %s\n' "$*" >&2
  exit 1
}
now_ms() { date +%s%3N; }

usage() {
  sed -n '/^# Usage:/,/^# Each artifact/p' "${BASH_SOURCE[0]}" | sed -e 's/^# \{0,1\}//' -e '/^Each artifact/d'
}

cleanup() {
  local fn pid dir mnt
  for fn in "${CLEANUP_FNS[@]}"; do "$fn" || true; done
  for pid in "${VERIFY_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for dir in "${TMP_DIRS[@]}"; do
    [[ -d $dir ]] || continue
    # Snapshot mounts of the verify containerd, deepest first, before removing the tree.
    while read -r mnt; do
      umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r)
    rm -rf "$dir"
  done
}
trap cleanup EXIT

# new_tmp VAR: make a scratch directory under $WORK (removed on exit) and store its path in VAR
new_tmp() {
  local _dir
  mkdir -p "$WORK"
  _dir=$(mktemp -d "$WORK/tmp.XXXXXX")
  TMP_DIRS+=("$_dir")
  printf -v "$1" '%s' "$_dir"
}

# ---------------------------------------------------------------- apt and packages

apt_update() {
  [[ $APT_UPDATED == 1 ]] && return 0
  [[ $EUID == 0 ]] || die "apt package lists are missing or stale and only root can run apt-get update"
  say "apt: updating package lists" >&2
  apt-get -q -o DPkg::Lock::Timeout=600 update >&2
  APT_UPDATED=1
}

ensure_apt_lists() {
  local lists=/var/lib/apt/lists/
  eval "$(apt-config shell lists Dir::State::Lists/d)"
  compgen -G "${lists%/}/*_Packages*" >/dev/null || apt_update
}

# ensure_installed PKG...: apt-get install the packages that are not installed yet
ensure_installed() {
  local pkg missing=()
  for pkg in "$@"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) == installed ]] || missing+=("$pkg")
  done
  [[ ${#missing[@]} == 0 ]] && return 0
  [[ $EUID == 0 ]] || die "missing packages ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
  ensure_apt_lists
  say "apt: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends \
    "${missing[@]}" >&2 ||
    { apt_update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
      --no-install-recommends "${missing[@]}" >&2; }
}

installed_version() { dpkg-query -W -f='${Version}' "$1"; }

# load_candidates PKG...: CANDIDATES[PKG] = the version apt would download now (one apt-cache call)
declare -A CANDIDATES=()
load_candidates() {
  local pkg version missing=()
  ensure_apt_lists
  while read -r pkg version; do
    [[ $version == "(none)" ]] || CANDIDATES[$pkg]=$version
  done < <(apt-cache policy "$@" 2>/dev/null |
    awk '/^[^ ]/ {pkg = $1; sub(/:$/, "", pkg)} $1 == "Candidate:" {print pkg, $2}')
  for pkg in "$@"; do [[ -n ${CANDIDATES[$pkg]:-} ]] || missing+=("$pkg"); done
  if [[ ${#missing[@]} -gt 0 && $APT_UPDATED == 0 ]]; then
    apt_update
    load_candidates "$@"
    return 0
  fi
  [[ ${#missing[@]} == 0 ]] ||
    die "apt has no candidate for ${missing[*]}: check /etc/apt/sources.list(.d) has Debian bookworm main"
}

candidate_version() {
  [[ -n ${CANDIDATES[$1]:-} ]] || die "internal: no candidate version loaded for $1"
  printf '%s\n' "${CANDIDATES[$1]}"
}

# upstream_version DEBIAN_VERSION: 1:1.35.0-4+b1 -> 1.35.0, 1.6.20~ds1-1+deb12u3 -> 1.6.20,
# 1.20.5+really1.20.2-1 -> 1.20.2
upstream_version() {
  local v=${1#*:}
  [[ $v == *-* ]] && v=${v%-*}
  [[ $v == *+really* ]] && v=${v##*+really}
  v=${v%%[~+]*}
  [[ $v =~ ^[0-9]+(\.[0-9]+)+$ ]] || die "cannot map Debian version '$1' to an upstream version (got '$v')"
  printf '%s\n' "$v"
}

# fetch_deb PKG VERSION: print the path of PKG_VERSION_amd64.deb, downloading it once into $WORK/debs.
# A kept .deb is reused only if its sha256 is the one in apt's (signed) package index.
fetch_deb() {
  local pkg=$1 version=$2 dir=$WORK/debs deb want
  deb=$dir/${pkg}_${version//:/%3a}_$ARCH.deb
  want=$(apt-cache show --no-all-versions "$pkg=$version" | awk '$1 == "SHA256:" {print $2; exit}')
  [[ -n $want ]] || die "apt-cache show $pkg=$version gives no SHA256: run apt-get update and try again"
  if [[ -e $deb && $(sha256sum <"$deb" | cut -d' ' -f1) != "$want" ]]; then
    say "$deb: sha256 is not the index's, downloading it again" >&2
    rm -f "$deb"
  fi
  if [[ ! -e $deb ]]; then
    # Download into .partial and move: an interrupted download never looks like a complete .deb.
    rm -rf "$dir/.partial"
    mkdir -p "$dir/.partial"
    # apt drops privileges to _apt while downloading: let it write here.
    if [[ $EUID == 0 ]] && getent passwd _apt >/dev/null; then chown _apt "$dir/.partial"; fi
    (cd "$dir/.partial" && apt-get download -q "$pkg=$version" >&2) ||
      die "apt-get download $pkg=$version failed: the mirror no longer has it? run again after apt-get update"
    mv -f "$dir/.partial/$(basename "$deb")" "$deb"
  fi
  [[ $(sha256sum <"$deb" | cut -d' ' -f1) == "$want" ]] || die "$deb does not match apt's sha256 $want"
  printf '%s\n' "$deb"
}

# extract_deb PKG DEBIAN_VERSION DEST UPSTREAM_VERSION: fetch the .deb, extract it into DEST and check
# that the upstream version read from the .deb itself is the one the artifact is named after.
# (Plain statements only: bash ignores set -e inside a command substitution used in a condition.)
extract_deb() {
  local pkg=$1 debian_version=$2 dest=$3 expected=$4 deb found
  deb=$(fetch_deb "$pkg" "$debian_version")
  mkdir -p "$dest"
  dpkg-deb -x "$deb" "$dest"
  found=$(dpkg-deb -f "$deb" Version)
  found=$(upstream_version "$found")
  [[ $found == "$expected" ]] || die "$deb is upstream version $found, expected $expected"
  say "$pkg: Debian $debian_version -> upstream $found"
}

# ---------------------------------------------------------------- private apt (trixie packages, bookworm sources)

# The machine's apt knows bookworm's binary packages. Trixie's binary packages and bookworm's source
# packages come through a private configuration in $PRIVATE_APT: own sources list, package lists and
# cache, handed to apt through APT_CONFIG (apt.conf.d still applies: proxies, timeouts). /etc/apt is
# never changed.

# debian_mirror: the first Debian mirror URI this machine's apt sources use for bookworm (deb822
# .sources stanzas and one-line .list entries; security and other suites do not count)
debian_mirror() {
  {
    awk -v RS= '{
      n = split($0, line, "\n"); uris = ""; bookworm = 0
      for (i = 1; i <= n; i++) {
        if (line[i] ~ /^URIs:/) uris = substr(line[i], 6)
        if (line[i] ~ /^Suites:/ && (" " substr(line[i], 8) " ") ~ /[ \t]bookworm[ \t]/) bookworm = 1
      }
      if (bookworm) print uris
    }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    awk '$1 == "deb" || $1 == "deb-src" {
      i = 2
      if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == "bookworm") print $i
    }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true
  } | tr -s ' \t' '\n' | grep -m1 '^https\{0,1\}://' || true
}

# private_apt: write the private configuration and fetch its package lists when they are missing, older
# than $PRIVATE_APT_MAX_AGE_DAYS days or were fetched for another sources list (once per run)
private_apt() {
  local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg want sourcelist lists
  [[ $PRIVATE_APT_READY == 1 ]] && return 0
  mirror=$(debian_mirror)
  [[ -n $mirror ]] || die "no Debian mirror for bookworm in /etc/apt/sources.list(.d): the private apt lists need one"
  [[ -r $keyring ]] || die "$keyring is missing: apt-get install debian-archive-keyring"
  want="deb [arch=$ARCH signed-by=$keyring] ${mirror%/} trixie main
deb-src [signed-by=$keyring] ${mirror%/} bookworm main"
  mkdir -p "$PRIVATE_APT/lists/partial" "$PRIVATE_APT/cache/archives/partial"
  if [[ ! -f $PRIVATE_APT/sources.list || $(<"$PRIVATE_APT/sources.list") != "$want" ]]; then
    printf '%s\n' "$want" >"$PRIVATE_APT/sources.list"
    rm -f "$PRIVATE_APT/updated"
  fi
  printf '%s\n' "Dir::Etc::SourceList \"$PRIVATE_APT/sources.list\";" 'Dir::Etc::SourceParts "/dev/null";' \
    'Dir::Etc::Preferences "/dev/null";' 'Dir::Etc::PreferencesParts "/dev/null";' \
    "Dir::State::Lists \"$PRIVATE_APT/lists/\";" "Dir::Cache \"$PRIVATE_APT/cache/\";" >"$PRIVATE_APT/apt.conf"
  # The machine's apt.conf.d is read after APT_CONFIG: make sure nothing there overrides the private paths.
  sourcelist=/ lists=/
  eval "$(APT_CONFIG=$PRIVATE_APT/apt.conf apt-config shell sourcelist Dir::Etc::SourceList/f \
    lists Dir::State::Lists/d)"
  [[ $sourcelist == "$PRIVATE_APT/sources.list" && ${lists%/} == "$PRIVATE_APT/lists" ]] ||
    die "apt ignores the private configuration $PRIVATE_APT/apt.conf (got $sourcelist, $lists):" \
      "check /etc/apt/apt.conf.d"
  if [[ ! -f $PRIVATE_APT/updated ]]; then
    private_apt_update
  elif [[ -n $(find "$PRIVATE_APT/updated" -mtime +"$((PRIVATE_APT_MAX_AGE_DAYS - 1))") ]]; then
    private_apt_update stale
  fi
  PRIVATE_APT_READY=1
}

# private_apt_update [stale]: fetch the private package lists; "stale": lists are there, only old, so a
# failure (offline, not root) is a warning and the old lists are used
private_apt_update() {
  local why
  [[ $PRIVATE_APT_UPDATED == 1 ]] && return 0
  PRIVATE_APT_UPDATED=1
  if [[ $EUID != 0 ]]; then
    why="only root can fetch them"
  else
    say "apt: updating the private lists in $PRIVATE_APT (trixie main, bookworm main sources)" >&2
    if APT_CONFIG=$PRIVATE_APT/apt.conf apt-get -q --error-on=any update >&2; then
      touch "$PRIVATE_APT/updated"
      return 0
    fi
    why="apt-get update failed (output above): is $(debian_mirror) reachable?"
  fi
  [[ ${1:-} == stale ]] || die "the private apt lists in $PRIVATE_APT are missing or outdated and $why"
  say "apt: warning: keeping the private lists in $PRIVATE_APT from $(date -r "$PRIVATE_APT/updated" +%F): $why" >&2
}

# with_private_apt CMD...: run CMD (function or command) with apt reading the private configuration
with_private_apt() {
  private_apt
  local -x APT_CONFIG=$PRIVATE_APT/apt.conf
  "$@"
}

# load_trixie_candidates PKG...: CANDIDATES[trixie/PKG] = the version trixie has now (one apt-cache call)
load_trixie_candidates() {
  local pkg version missing=()
  private_apt
  while read -r pkg version; do
    [[ $version == "(none)" ]] || CANDIDATES[trixie/$pkg]=$version
  done < <(APT_CONFIG=$PRIVATE_APT/apt.conf apt-cache policy "$@" 2>/dev/null |
    awk '/^[^ ]/ {pkg = $1; sub(/:$/, "", pkg)} $1 == "Candidate:" {print pkg, $2}')
  for pkg in "$@"; do [[ -n ${CANDIDATES[trixie/$pkg]:-} ]] || missing+=("$pkg"); done
  if [[ ${#missing[@]} -gt 0 && $PRIVATE_APT_UPDATED == 0 ]]; then
    private_apt_update
    load_trixie_candidates "$@"
    return 0
  fi
  [[ ${#missing[@]} == 0 ]] || die "trixie has no package ${missing[*]} (private lists in $PRIVATE_APT)"
}

# load_source_candidate PKG: CANDIDATES[source/PKG] = the newest version of bookworm's source package PKG
load_source_candidate() {
  local pkg=$1 version best=
  private_apt
  while read -r version; do
    if [[ -z $best ]] || dpkg --compare-versions "$version" gt "$best"; then best=$version; fi
  done < <(APT_CONFIG=$PRIVATE_APT/apt.conf apt-cache showsrc --only-source "$pkg" 2>/dev/null |
    awk '$1 == "Version:" {print $2}')
  if [[ -z $best && $PRIVATE_APT_UPDATED == 0 ]]; then
    private_apt_update
    load_source_candidate "$pkg"
    return 0
  fi
  [[ -n $best ]] || die "bookworm has no source package $pkg (private lists in $PRIVATE_APT)"
  CANDIDATES[source/$pkg]=$best
}

# ---------------------------------------------------------------- packing and cache keys

# targz SRC_DIR OUT MEMBER...: reproducible .tar.gz (sorted, owner 0:0, mtime 0, no gzip timestamp)
targz() {
  local src=$1 out=$2
  shift 2
  mkdir -p "$(dirname "$out")"
  tar -C "$src" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -cf - "$@" |
    gzip -n >"$(dirname "$out")/.$(basename "$out").tmp"
  mv -f "$(dirname "$out")/.$(basename "$out").tmp" "$out"
}

# place SRC OUT: install a file into the mirror atomically
place() {
  mkdir -p "$(dirname "$2")"
  cp "$1" "$(dirname "$2")/.$(basename "$2").tmp"
  mv -f "$(dirname "$2")/.$(basename "$2").tmp" "$2"
}

# write_sums OUT FILE...: "<sha256>  <name>" lines (upstream format) for FILEs in OUT's directory
write_sums() {
  local out=$1
  shift
  (cd "$(dirname "$out")" && sha256sum "$@") >"$(dirname "$out")/.$(basename "$out").tmp"
  mv -f "$(dirname "$out")/.$(basename "$out").tmp" "$out"
}

RECIPE_HELPERS=(upstream_version fetch_deb extract_deb targz place write_sums)

# recipe_key "FUNC [FUNC...]" VERSION INPUTS [FILE...]: the cache key of an artifact made by FUNC (and the
# other functions named with it)
recipe_key() {
  local funcs version=$2 inputs=$3 hash
  read -ra funcs <<<"$1"
  shift 3
  hash=$({
    declare -f "${funcs[@]}" "${RECIPE_HELPERS[@]}"
    [[ $# == 0 ]] || cat "$@"
  } | sha256sum | cut -d' ' -f1)
  printf 'version=%s inputs=%s recipe=%s\n' "$version" "$inputs" "$hash"
}

# is_cached NAME KEY VERSION INPUTS OUTPUT...: true (and recorded as cached) when every output
# exists and was made with the same key. Otherwise the old key is dropped before the rebuild starts,
# so that a rebuild interrupted halfway is never taken for a finished one.
is_cached() {
  local name=$1 key=$2 version=$3 inputs=$4 recipe=$MIRROR/.recipes/$1.recipe out
  shift 4
  if [[ -f $recipe && $(<"$recipe") == "$key" ]]; then
    for out in "$@"; do [[ -s $out ]] || break; done
    if [[ -s $out ]]; then
      SUMMARY+=("cached|$name|$version|$inputs|$1")
      say "$name $version ($inputs): cached"
      return 0
    fi
  fi
  rm -f "$recipe"
  return 1
}

mark_built() {
  local name=$1 key=$2 version=$3 inputs=$4 out=$5 group=$6
  mkdir -p "$MIRROR/.recipes"
  printf '%s\n' "$key" >"$MIRROR/.recipes/.$name.recipe.tmp"
  mv -f "$MIRROR/.recipes/.$name.recipe.tmp" "$MIRROR/.recipes/$name.recipe"
  SUMMARY+=("built|$name|$version|$inputs|$out")
  BUILT_NAMES+=("$name")
  [[ " ${BUILT_GROUPS[*]} " == *" $group "* ]] || BUILT_GROUPS+=("$group")
  say "$name $version ($inputs): built $out"
}

# ---------------------------------------------------------------- group: containerd (containerd, runc, CNI)

# build_containerd [SUITE MINOR]: containerd from bookworm's package (the machine's apt), or from SUITE's
# (trixie, the private apt) whose upstream version must be MINOR.x
build_containerd() {
  local suite=${1:-} minor=${2:-} artifact=containerd pkg=containerd apt=() dv v dir name key tmp
  if [[ -n $suite ]]; then
    artifact=containerd-$suite pkg=$suite/containerd apt=(with_private_apt)
  fi
  dv=$(candidate_version "$pkg")
  v=$(upstream_version "$dv")
  [[ -z $minor || $v == "$minor".* ]] ||
    die "$suite's containerd is now $v ($dv), not $minor.x: change CONTAINERD_NEXT_MINOR and the tests that use it"
  dir=$MIRROR/github.com/containerd/containerd/releases/download/v$v
  name=containerd-$v-linux-$ARCH.tar.gz
  key=$(recipe_key build_containerd "$v" "containerd=$dv")
  is_cached "$artifact" "$key" "$v" "containerd=$dv" "$dir/$name" "$dir/$name.sha256sum" && return 0
  new_tmp tmp
  "${apt[@]}" extract_deb containerd "$dv" "$tmp/deb" "$v"
  mkdir -p "$tmp/out/bin"
  # containerd, ctr and every shim the package ships (containerd-shim, -runc-v1, -runc-v2)
  cp "$tmp"/deb/usr/bin/containerd* "$tmp/deb/usr/bin/ctr" "$tmp/out/bin/"
  [[ -x $tmp/out/bin/containerd-shim-runc-v2 ]] || die "the containerd package has no containerd-shim-runc-v2"
  chmod 0755 "$tmp/out/bin" "$tmp"/out/bin/*
  targz "$tmp/out" "$dir/$name" bin
  write_sums "$dir/$name.sha256sum" "$name"
  mark_built "$artifact" "$key" "$v" "containerd=$dv" "$dir/$name" containerd
}

build_runc() {
  local dv v dir key tmp
  dv=$(candidate_version runc)
  v=$(upstream_version "$dv")
  dir=$MIRROR/github.com/opencontainers/runc/releases/download/v$v
  key=$(recipe_key build_runc "$v" "runc=$dv")
  is_cached runc "$key" "$v" "runc=$dv" "$dir/runc.$ARCH" "$dir/runc.sha256sum" && return 0
  new_tmp tmp
  extract_deb runc "$dv" "$tmp/deb" "$v"
  chmod 0755 "$tmp/deb/usr/sbin/runc"
  place "$tmp/deb/usr/sbin/runc" "$dir/runc.$ARCH"
  chmod 0755 "$dir/runc.$ARCH"
  write_sums "$dir/runc.sha256sum" "runc.$ARCH"
  mark_built runc "$key" "$v" "runc=$dv" "$dir/runc.$ARCH" containerd
}

build_cni_plugins() {
  local dv v dir name key tmp
  dv=$(candidate_version containernetworking-plugins)
  v=$(upstream_version "$dv")
  dir=$MIRROR/github.com/containernetworking/plugins/releases/download/v$v
  name=cni-plugins-linux-$ARCH-v$v.tgz
  key=$(recipe_key build_cni_plugins "$v" "containernetworking-plugins=$dv")
  is_cached cni-plugins "$key" "$v" "containernetworking-plugins=$dv" "$dir/$name" "$dir/$name.sha256" && return 0
  new_tmp tmp
  extract_deb containernetworking-plugins "$dv" "$tmp/deb" "$v"
  mkdir -p "$tmp/out"
  cp "$tmp"/deb/usr/lib/cni/* "$tmp/out/"
  chmod 0755 "$tmp/out" "$tmp"/out/*
  targz "$tmp/out" "$dir/$name" .
  write_sums "$dir/$name.sha256" "$name"
  mark_built cni-plugins "$key" "$v" "containernetworking-plugins=$dv" "$dir/$name" containerd
}

group_containerd() {
  load_trixie_candidates containerd
  build_containerd
  build_containerd trixie "$CONTAINERD_NEXT_MINOR"
  build_runc
  build_cni_plugins
}

# ---------------------------------------------------------------- group: etcd

# build_etcd [SUITE MINOR]: etcd from bookworm's etcd-server and etcd-client packages (the machine's apt),
# or from SUITE's (trixie, the private apt) whose upstream version must be MINOR.x
build_etcd() {
  local suite=${1:-} minor=${2:-} artifact=etcd prefix='' apt=() dv dv_client v v_client dir name key tmp inputs top
  if [[ -n $suite ]]; then
    artifact=etcd-$suite prefix=$suite/ apt=(with_private_apt)
  fi
  dv=$(candidate_version "${prefix}etcd-server")
  dv_client=$(candidate_version "${prefix}etcd-client")
  v=$(upstream_version "$dv")
  v_client=$(upstream_version "$dv_client")
  [[ $v_client == "$v" ]] || die "etcd-server $dv and etcd-client $dv_client are different upstream versions"
  [[ -z $minor || $v == "$minor".* ]] ||
    die "$suite's etcd is now $v ($dv), not $minor.x: change ETCD_NEXT_MINOR and the tests that use it"
  dir=$MIRROR/github.com/etcd-io/etcd/releases/download/v$v
  name=etcd-v$v-linux-$ARCH.tar.gz
  top=etcd-v$v-linux-$ARCH
  inputs="etcd-server=$dv etcd-client=$dv_client"
  key=$(recipe_key build_etcd "$v" "$inputs")
  is_cached "$artifact" "$key" "$v" "$inputs" "$dir/$name" "$dir/SHA256SUMS" && return 0
  new_tmp tmp
  "${apt[@]}" extract_deb etcd-server "$dv" "$tmp/deb" "$v"
  "${apt[@]}" extract_deb etcd-client "$dv_client" "$tmp/deb" "$v"
  mkdir -p "$tmp/out/$top"
  cp "$tmp/deb/usr/bin/etcd" "$tmp/deb/usr/bin/etcdctl" "$tmp/out/$top/"
  # etcdutl (offline snapshot restore, defrag) exists from 3.5 on; Debian ships it in etcd-server
  if [[ -e $tmp/deb/usr/bin/etcdutl ]]; then cp "$tmp/deb/usr/bin/etcdutl" "$tmp/out/$top/"; fi
  chmod 0755 "$tmp/out/$top" "$tmp/out/$top"/*
  targz "$tmp/out" "$dir/$name" "$top"
  write_sums "$dir/SHA256SUMS" "$name"
  mark_built "$artifact" "$key" "$v" "$inputs" "$dir/$name" etcd
}

group_etcd() {
  load_trixie_candidates etcd-server etcd-client
  build_etcd
  build_etcd trixie "$ETCD_NEXT_MINOR"
}

# ---------------------------------------------------------------- group: images

ensure_python() {
  if ! command -v "$PY" >/dev/null; then
    ensure_installed python3
    PY=python3
  fi
}

build_pause_image() {
  local out=$MIRROR/images/pause-$PAUSE_VERSION.tar key tmp inputs
  ensure_installed gcc libc6-dev
  ensure_python
  inputs="gcc=$(installed_version gcc) libc6-dev=$(installed_version libc6-dev)"
  key=$(recipe_key build_pause_image "$PAUSE_VERSION" "$inputs" "$MKIMAGE")
  is_cached pause-image "$key" "$PAUSE_VERSION" "$inputs" "$out" "$out.sha256" && return 0
  new_tmp tmp
  mkdir -p "$tmp/rootfs"
  cat >"$tmp/pause.c" <<'EOF'
/* kubesmith pause: holds a pod's namespaces; exits 0 on SIGINT/SIGTERM; reaps orphans as PID 1. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { (void)sig; _exit(0); }

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		puts("pause " PAUSE_VERSION " (kubesmith)");
		return 0;
	}
	if (getpid() != 1)
		fprintf(stderr, "pause: warning: not running as PID 1\n");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		return 1;
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		return 1;
	for (;;)
		pause();
}
EOF
  gcc -Os -static -Wall -Wextra -Werror -DPAUSE_VERSION="\"$PAUSE_VERSION\"" -o "$tmp/rootfs/pause" "$tmp/pause.c"
  strip "$tmp/rootfs/pause"
  chmod 0755 "$tmp/rootfs" "$tmp/rootfs/pause"
  mkdir -p "$MIRROR/images"
  "$PY" "$MKIMAGE" build --ref "$PAUSE_REF" --rootfs "$tmp/rootfs" --out "$out" \
    --entrypoint /pause --user 65535:65535 >/dev/null
  write_sums "$out.sha256" "$(basename "$out")"
  mark_built pause-image "$key" "$PAUSE_VERSION" "$inputs" "$out" images
}

build_busybox_image() {
  local dv v tag out key tmp root applet link up
  # busybox comes from the downloaded .deb like every other artifact: nothing to install on this host
  # (installing busybox-static would replace a host's `busybox` package).
  ensure_python
  dv=$(candidate_version busybox-static)
  v=$(upstream_version "$dv")
  tag=$(cut -d. -f1,2 <<<"$v")
  out=$MIRROR/images/busybox-$tag.tar
  key=$(recipe_key build_busybox_image "$v" "busybox-static=$dv" "$MKIMAGE")
  is_cached busybox-image "$key" "$tag" "busybox-static=$dv" "$out" "$out.sha256" && return 0
  new_tmp tmp
  extract_deb busybox-static "$dv" "$tmp/deb" "$v"
  root=$tmp/rootfs
  mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/root" "$root/tmp" \
    "$root/proc" "$root/sys" "$root/dev" "$root/var/www"
  cp "$tmp/deb/bin/busybox" "$root/bin/busybox"
  # One relative symlink per applet at its usual place (bin/sh, usr/sbin/httpd, usr/bin/nc, ...).
  while read -r applet; do
    [[ -n $applet && ! -e $root/$applet && ! -L $root/$applet ]] || continue
    mkdir -p "$root/$(dirname "$applet")"
    up=${applet//[^\/]/}     # one "../" per directory level: usr/bin/nc -> ../../bin/busybox
    up=${up//\//..\/}
    ln -s "${up}bin/busybox" "$root/$applet"
  done < <("$root/bin/busybox" --list-full)
  for link in bin/sh usr/sbin/httpd usr/bin/nc; do
    [[ -L $root/$link && -x $root/$link ]] || die "busybox-static $dv has no $link applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 0755 "$root" "$root/bin/busybox"
  chmod 0700 "$root/root"
  chmod 1777 "$root/tmp"
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
  mkdir -p "$MIRROR/images"
  "$PY" "$MKIMAGE" build --ref "$BUSYBOX_REPO:$tag" --rootfs "$root" --out "$out" \
    --entrypoint /bin/busybox --cmd sh >/dev/null
  write_sums "$out.sha256" "$(basename "$out")"
  mark_built busybox-image "$key" "$tag" "busybox-static=$dv" "$out" images
}

group_images() {
  build_pause_image
  build_busybox_image
}

# ---------------------------------------------------------------- group: kubernetes (server binaries from source)

# Bookworm's kubernetes source package is upstream v1.20.2 with vendor/ and Debian's patches (Debian
# itself builds only kubectl from it). Built with bookworm's golang-go in GOPATH mode (module mode
# wants to update go.mod), static (CGO_ENABLED=0), stamped the way upstream's hack/lib/version.sh does.
# The unpacked tree (with its generated OpenAPI file) and the Go build cache stay in $K8S_WORK, so a
# warm build only links. Output: dl.k8s.io/release/v<V>/bin/linux/amd64/<binary> and <binary>.sha256.
K8S_WORK=$WORK/kubernetes
K8S_GOPATH=$K8S_WORK/gopath
K8S_TREE=$K8S_GOPATH/src/k8s.io/kubernetes
K8S_GO=/usr/bin/go
K8S_GOROOT=
K8S_GO_VERSION=
K8S_RECIPE=(k8s_env k8s_source k8s_openapi_packages k8s_openapi k8s_prepare k8s_ldflags k8s_compile write_hash)

# k8s_env CMD...: run CMD at nice 19 in the Go environment of the build: GOPATH mode, no network, no
# user go.env, static binaries, build cache and temporary files in $K8S_WORK
k8s_env() {
  env -u GOBIN -u GOEXPERIMENT GOENV=off GOFLAGS= GO111MODULE=off GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local \
    CGO_ENABLED=0 GOOS=linux GOARCH="$ARCH" GOROOT="$K8S_GOROOT" GOPATH="$K8S_GOPATH" \
    GOCACHE="$K8S_WORK/gocache" GOTMPDIR="$K8S_WORK/tmp" nice -n 19 "$@"
}

# k8s_source DEBIAN_VERSION: print the .dsc of bookworm's kubernetes source package, downloaded once into
# $K8S_WORK/source (apt checks each file against the signed Sources index, kept ones included)
k8s_source() {
  local dv=$1 dir=$K8S_WORK/source dsc
  dsc=$dir/${K8S_SOURCE}_${dv#*:}.dsc
  mkdir -p "$dir"
  # apt drops privileges to _apt while downloading: let it write here.
  if [[ $EUID == 0 ]] && getent passwd _apt >/dev/null; then chown _apt "$dir"; fi
  (cd "$dir" && with_private_apt apt-get source -q --download-only "$K8S_SOURCE=$dv" >&2) ||
    die "apt-get source $K8S_SOURCE=$dv failed (output above): is the private apt in $PRIVATE_APT up to date?"
  [[ -f $dsc ]] || die "apt-get source $K8S_SOURCE=$dv did not leave $dsc"
  printf '%s\n' "$dsc"
}

# k8s_openapi_packages: the packages pkg/generated/openapi is made from, chosen as upstream's
# build/root/Makefile.generated_files chooses them: Go files with a "// +k8s:" comment tag and a
# "+k8s:openapi-gen=" tag, in the tree and in staging/ (seen as vendor/k8s.io/...), not in the rest of
# vendor/, nor in code-generator's and sample-apiserver's examples (those have their own generated files)
k8s_openapi_packages() {
  (
    cd "$K8S_TREE"
    find . \( -path ./vendor -o -path './_*' -o -path './.*' \) -prune -o -type f -name '*.go' -print0 |
      xargs -0 grep -l --null '^// *+k8s:' | xargs -0 grep -l '+k8s:openapi-gen=' |
      sed -e 's|^\./||' -e 's|/[^/]*$||' -e 's|^staging/src/|vendor/|' |
      grep -v -e '^vendor/k8s\.io/code-generator/' -e '^vendor/k8s\.io/sample-apiserver/' | LC_ALL=C sort -u
  )
}

# k8s_openapi: generate pkg/generated/openapi/zz_generated.openapi.go (kube-apiserver needs it; release
# tarballs do not have it). The API rule violations found must be upstream's known list, which shows that
# the input packages are upstream's.
k8s_openapi() {
  local inputs report=$K8S_WORK/openapi-violations.report known=$K8S_TREE/api/api-rules/violation_exceptions.list
  inputs=$(k8s_openapi_packages | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  [[ -n $inputs ]] || die "no +k8s:openapi-gen= packages found in $K8S_TREE"
  mkdir -p "$K8S_WORK/bin" "$K8S_WORK/tmp"
  k8s_env "$K8S_GO" build -o "$K8S_WORK/bin/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen
  (cd "$K8S_TREE" && k8s_env "$K8S_WORK/bin/openapi-gen" --logtostderr -i "$inputs" \
    -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$report") 2>"$K8S_WORK/openapi-gen.log" ||
    {
      tail -n 20 "$K8S_WORK/openapi-gen.log" >&2 || true
      die "openapi-gen failed in $K8S_TREE (log: $K8S_WORK/openapi-gen.log)"
    }
  [[ -s $K8S_TREE/pkg/generated/openapi/zz_generated.openapi.go ]] || die "openapi-gen wrote no zz_generated.openapi.go"
  diff "$known" "$report" >&2 ||
    die "openapi-gen's API rule violations differ from $known (diff above): the input packages are not upstream's"
  say "kubernetes: generated pkg/generated/openapi from $(tr ',' '\n' <<<"$inputs" | wc -l) packages"
}

# k8s_prepare DEBIAN_VERSION: $K8S_TREE is that source, unpacked with Debian's patches and the OpenAPI file
# generated; redone only when the version, the Go version or this recipe changed (stamp written last)
k8s_prepare() {
  local dv=$1 stamp=$K8S_TREE/.kubesmith-prepared want dsc start
  want="source=$dv go=$K8S_GO_VERSION recipe=$(declare -f "${K8S_RECIPE[@]}" | sha256sum | cut -d' ' -f1)"
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
  start=$(now_ms)
  dsc=$(k8s_source "$dv")
  rm -rf "$K8S_TREE" "$K8S_TREE.new"
  mkdir -p "$(dirname "$K8S_TREE")"
  # --no-check: apt has checked every file against the signed Sources index (the .dsc's own signature
  # is a Debian developer's, whose key this machine does not have)
  dpkg-source --no-check -x "$dsc" "$K8S_TREE.new" >&2
  mv "$K8S_TREE.new" "$K8S_TREE"
  k8s_openapi
  printf '%s\n' "$want" >"$stamp"
  say "kubernetes source $dv: fetched, unpacked, OpenAPI generated in $((($(now_ms) - start) / 1000)) s"
}

# k8s_ldflags VERSION: what --version and /version report, set the way hack/lib/version.sh sets it: the
# version, major and minor, the commit and tree state that git archive wrote into hack/lib/version.sh, and
# the date of the Debian source (its changelog) as build date; -s -w as upstream's release builds
k8s_ldflags() {
  local version=$1 commit state=archive date minor pkg flags="-s -w" kv
  commit=$(sed -n "s/^ *KUBE_GIT_COMMIT='\([0-9a-f]\{40\}\)'\$/\1/p" "$K8S_TREE/hack/lib/version.sh" | head -n1)
  [[ -n $commit ]] || state=
  date=$(date -u -d "@$(dpkg-parsechangelog -l "$K8S_TREE/debian/changelog" -S Timestamp)" +%Y-%m-%dT%H:%M:%SZ)
  minor=${version#v*.}
  minor=${minor%%.*}
  for pkg in k8s.io/kubernetes/vendor/k8s.io/{client-go/pkg/version,component-base/version}; do
    for kv in "gitVersion=$version" "gitMajor=$(cut -d. -f1 <<<"${version#v}")" "gitMinor=$minor" \
      "gitCommit=$commit" "gitTreeState=$state" "buildDate=$date"; do
      flags+=" -X $pkg.$kv"
    done
  done
  printf '%s\n' "$flags"
}

# k8s_compile VERSION OUT_DIR: build every binary of K8S_BINARIES into OUT_DIR, stamped VERSION
k8s_compile() {
  local version=$1 out=$2 bin pkgs=() ldflags
  for bin in "${K8S_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$bin"); done
  ldflags=$(k8s_ldflags "$version")
  mkdir -p "$out" "$K8S_WORK/tmp"
  (cd "$K8S_TREE" && k8s_env "$K8S_GO" build -trimpath -ldflags "$ldflags" -o "$out/" "${pkgs[@]}") ||
    die "go build of ${K8S_BINARIES[*]} ($version) failed (output above)"
}

# write_hash OUT FILE: FILE's sha256 alone, without a newline (the format of dl.k8s.io's <binary>.sha256)
write_hash() {
  sha256sum <"$2" | cut -d' ' -f1 | tr -d '\n' >"$(dirname "$1")/.$(basename "$1").tmp"
  mv -f "$(dirname "$1")/.$(basename "$1").tmp" "$1"
}

# build_kubernetes [BUILD_TAG]: the server binaries and kubectl, stamped v<upstream>[+BUILD_TAG]
build_kubernetes() {
  local tag=${1:-} dv v artifact=kubernetes dir inputs key outs=() bin tmp start
  dv=$(candidate_version "source/$K8S_SOURCE")
  v=$(upstream_version "$dv")${tag:++$tag}
  [[ -z $tag ]] || artifact=kubernetes-$tag
  dir=$MIRROR/dl.k8s.io/release/v$v/bin/linux/$ARCH
  inputs="$K8S_SOURCE=$dv go=${K8S_GO_VERSION#go}"
  key=$(recipe_key "build_kubernetes ${K8S_RECIPE[*]}" "$v" "$inputs")
  for bin in "${K8S_BINARIES[@]}"; do outs+=("$dir/$bin" "$dir/$bin.sha256"); done
  is_cached "$artifact" "$key" "$v" "$inputs" "${outs[@]}" && return 0
  k8s_prepare "$dv"
  new_tmp tmp
  start=$(now_ms)
  k8s_compile "v$v" "$tmp/bin"
  say "kubernetes v$v: go build of ${#K8S_BINARIES[@]} binaries in $((($(now_ms) - start) / 1000)) s"
  for bin in "${K8S_BINARIES[@]}"; do
    place "$tmp/bin/$bin" "$dir/$bin"
    chmod 0755 "$dir/$bin"
    write_hash "$dir/$bin.sha256" "$dir/$bin"
  done
  mark_built "$artifact" "$key" "$v" "$inputs" "$dir" kubernetes
}

group_kubernetes() {
  ensure_installed golang-go dpkg-dev
  K8S_GOROOT=$(env -u GOROOT GOENV=off "$K8S_GO" env GOROOT)
  K8S_GO_VERSION=$(k8s_env "$K8S_GO" env GOVERSION)
  load_source_candidate "$K8S_SOURCE"
  build_kubernetes
  build_kubernetes "$K8S_BUILD_TAG"
}

# ---------------------------------------------------------------- index

write_index() {
  mkdir -p "$MIRROR"
  # Nothing newer than the index (and nothing built): it is still exact, skip re-hashing the mirror.
  if [[ ${#BUILT_GROUPS[@]} == 0 && -s $MIRROR/index.txt ]] &&
    [[ -z $(find "$MIRROR" -mindepth 1 -name '.*' -prune -o -type f -newer "$MIRROR/index.txt" -print -quit) ]]; then
    return 0
  fi
  (
    cd "$MIRROR"
    find . -mindepth 1 -name '.*' -prune -o -type f ! -path ./index.txt -printf '%P\n' | LC_ALL=C sort |
      xargs -r -d '\n' sha256sum
  ) >"$MIRROR/.index.txt.tmp"
  mv -f "$MIRROR/.index.txt.tmp" "$MIRROR/index.txt"
}

# ---------------------------------------------------------------- verify

# check DESCRIPTION CMD...: run CMD in a subshell with errexit in force (a background job, not an `if`
# condition, where bash would ignore set -e); it cleans up its own scratch dirs and processes.
# A failure is counted and shown with the command's output instead of stopping the run.
check() {
  local desc=$1 rc=0 log
  shift
  log=$WORK/.check.$$.log
  # shellcheck disable=SC2030,SC2031 # the subshell's own lists, on purpose: its trap cleans what it made
  (
    TMP_DIRS=()
    VERIFY_PIDS=()
    CLEANUP_FNS=()
    trap cleanup EXIT
    "$@"
  ) >"$log" 2>&1 &
  wait "$!" || rc=$?
  if [[ $rc == 0 ]]; then
    say "  ok    $desc$([[ -s $log ]] && printf ': %s' "$(tail -n1 "$log")")"
  else
    say "  FAIL  $desc (exit $rc)"
    tail -n 20 "$log" | sed 's/^/        /'
    VERIFY_FAILURES=$((VERIFY_FAILURES + 1))
  fi
  rm -f "$log"
}

missing() {
  say "  FAIL  $1 missing from $MIRROR: run tools/build-artifacts.sh $2"
  VERIFY_FAILURES=$((VERIFY_FAILURES + 1))
}

# newest VERSIONED_GLOB: the last match in version order (empty if none)
newest() {
  compgen -G "$1" | sort -V | tail -n 1 || true
}

output_has() { # output_has NEEDLE CMD...: CMD succeeds and its output contains NEEDLE; prints the output
  local needle=$1 out
  shift
  out=$("$@" 2>&1) || {
    printf '%s\n' "$out"
    return 1
  }
  printf '%s\n' "$out" | tr -s '\n' ' '
  printf '\n'
  [[ $out == *"$needle"* ]] || {
    printf 'expected "%s" in the output\n' "$needle"
    return 1
  }
}

sums_ok() { (cd "$1" && sha256sum --strict -c "$2"); }

verify_containerd() {
  local archive dir v tmp found=0
  for archive in $(compgen -G "$MIRROR/github.com/containerd/containerd/releases/download/v*/containerd-*-linux-$ARCH.tar.gz"); do
    found=1
    dir=$(dirname "$archive")
    v=${dir##*/v}
    new_tmp tmp
    check "containerd $v sha256sum" sums_ok "$dir" "$(basename "$archive").sha256sum"
    tar -C "$tmp" -xzf "$archive"
    check "containerd $v archive layout (bin/containerd, bin/containerd-shim-runc-v2, bin/ctr)" \
      test -x "$tmp/bin/containerd" -a -x "$tmp/bin/containerd-shim-runc-v2" -a -x "$tmp/bin/ctr"
    # Debian's builds print "containerd 1.6.20~ds1", upstream's "containerd v1.6.20"
    check "containerd $v: containerd --version" output_has "containerd $v" "$tmp/bin/containerd" --version
    check "containerd $v: ctr --version" output_has "containerd $v" "$tmp/bin/ctr" --version
  done
  [[ $found == 1 ]] || missing "containerd archive" containerd
  found=0
  for archive in $(compgen -G "$MIRROR/github.com/opencontainers/runc/releases/download/v*/runc.$ARCH"); do
    found=1
    dir=$(dirname "$archive")
    v=${dir##*/v}
    check "runc $v sha256sum" sums_ok "$dir" runc.sha256sum
    check "runc $v: runc --version" output_has "runc version $v" "$archive" --version
  done
  [[ $found == 1 ]] || missing "runc" containerd
  found=0
  for archive in $(compgen -G "$MIRROR/github.com/containernetworking/plugins/releases/download/v*/cni-plugins-linux-$ARCH-v*.tgz"); do
    found=1
    dir=$(dirname "$archive")
    v=${dir##*/v}
    new_tmp tmp
    check "cni-plugins $v sha256sum" sums_ok "$dir" "$(basename "$archive").sha256"
    tar -C "$tmp" -xzf "$archive"
    check "cni-plugins $v archive layout (./bridge ./host-local ./loopback ./portmap)" \
      test -x "$tmp/bridge" -a -x "$tmp/host-local" -a -x "$tmp/loopback" -a -x "$tmp/portmap"
    check "cni-plugins $v: CNI_COMMAND=VERSION bridge" output_has supportedVersions env CNI_COMMAND=VERSION "$tmp/bridge"
    check "cni-plugins $v: CNI_COMMAND=VERSION host-local" \
      output_has supportedVersions env CNI_COMMAND=VERSION "$tmp/host-local"
  done
  [[ $found == 1 ]] || missing "CNI plugins archive" containerd
}

# etcd_smoke DIR: start etcd on free loopback ports, write and read a key with etcdctl, stop it
etcd_smoke() {
  local bin=$1 data=$1/data ports client peer pid i
  ports=$("$PY" -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
  read -r client peer <<<"$ports"
  "$bin/etcd" --name smoke --data-dir "$data" --listen-client-urls "http://127.0.0.1:$client" \
    --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "smoke=http://127.0.0.1:$peer" \
    >"$bin/etcd.log" 2>&1 &
  pid=$!
  # shellcheck disable=SC2031 # runs inside check()'s subshell, whose trap stops it
  VERIFY_PIDS+=("$pid")
  for ((i = 0; i < 100; i++)); do
    ETCDCTL_API=3 "$bin/etcdctl" --endpoints "127.0.0.1:$client" --command-timeout=1s put kubesmith ok \
      >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$bin/etcd.log"; return 1; }
    sleep 0.1
  done
  ETCDCTL_API=3 "$bin/etcdctl" --endpoints "127.0.0.1:$client" get --print-value-only kubesmith | grep -qx ok ||
    { tail -n 20 "$bin/etcd.log"; return 1; }
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  echo "etcd served put/get on 127.0.0.1:$client"
}

verify_etcd() {
  local archive dir v tmp found=0 top
  for archive in $(compgen -G "$MIRROR/github.com/etcd-io/etcd/releases/download/v*/etcd-v*-linux-$ARCH.tar.gz"); do
    found=1
    dir=$(dirname "$archive")
    v=${dir##*/v}
    top=etcd-v$v-linux-$ARCH
    new_tmp tmp
    check "etcd $v SHA256SUMS" sums_ok "$dir" SHA256SUMS
    tar -C "$tmp" -xzf "$archive"
    check "etcd $v archive layout ($top/etcd, $top/etcdctl)" test -x "$tmp/$top/etcd" -a -x "$tmp/$top/etcdctl"
    check "etcd $v: etcd --version" output_has "etcd Version: $v" "$tmp/$top/etcd" --version
    check "etcd $v: etcdctl version" output_has "etcdctl version: $v" env ETCDCTL_API=3 "$tmp/$top/etcdctl" version
    if [[ -e $tmp/$top/etcdutl ]]; then
      check "etcd $v: etcdutl version" output_has "etcdutl version: $v" "$tmp/$top/etcdutl" version
    fi
    check "etcd $v: starts, put/get through etcdctl" etcd_smoke "$tmp/$top"
  done
  [[ $found == 1 ]] || missing "etcd archive" etcd
}

# ctr_teardown: stop the private containerd of ctr_smoke (SMOKE_CTR, SMOKE_PID): kill and delete its
# tasks and containers first so that no shim outlives it; then drop /run/containerd if the smoke test
# created it (shims and runc keep state there whatever the config says) and nothing else uses it.
SMOKE_CTR=()
SMOKE_PID=
SMOKE_RUN_DIR=0
ctr_teardown() {
  local id
  [[ ${#SMOKE_CTR[@]} -gt 0 ]] || return 0
  for id in $("${SMOKE_CTR[@]}" tasks ls -q 2>/dev/null); do
    "${SMOKE_CTR[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    "${SMOKE_CTR[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $("${SMOKE_CTR[@]}" containers ls -q 2>/dev/null); do
    "${SMOKE_CTR[@]}" containers delete "$id" >/dev/null 2>&1 || true
  done
  if [[ -n $SMOKE_PID ]]; then
    kill "$SMOKE_PID" 2>/dev/null || true
    wait "$SMOKE_PID" 2>/dev/null || true
  fi
  if [[ $SMOKE_RUN_DIR == 1 && -z $(find /run/containerd -type s -print -quit 2>/dev/null) ]]; then
    rm -rf /run/containerd
  fi
  SMOKE_CTR=()
  SMOKE_PID=
}

# ctr_smoke: import both images into a private containerd (own socket and root, from the mirror's
# archives) and run them: busybox prints through sh; pause keeps running and exits 0 on SIGTERM.
ctr_smoke() {
  local pause_tar=$1 busybox_tar=$2 containerd_tgz=$3 runc_bin=$4 busybox_ref pid i t ctr run_pid rc
  new_tmp t
  [[ -e /run/containerd ]] || SMOKE_RUN_DIR=1
  mkdir -p "$t/bin"
  tar -C "$t" -xzf "$containerd_tgz"
  cp "$runc_bin" "$t/bin/runc"
  chmod 0755 "$t/bin/runc"
  cat >"$t/config.toml" <<EOF
version = 2
root = "$t/root"
state = "$t/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$t/containerd.sock"
[ttrpc]
  address = "$t/containerd.sock.ttrpc"
[debug]
  address = "$t/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$t/opt"
EOF
  PATH=$t/bin:$PATH "$t/bin/containerd" --config "$t/config.toml" >"$t/containerd.log" 2>&1 &
  pid=$!
  SMOKE_PID=$pid
  ctr=("$t/bin/ctr" --address "$t/containerd.sock" --namespace k8s.io)
  SMOKE_CTR=("${ctr[@]}")
  # shellcheck disable=SC2031 # runs inside check()'s subshell: its trap tears down before containerd stops
  CLEANUP_FNS+=(ctr_teardown)
  for ((i = 0; i < 100; i++)); do
    "${ctr[@]}" version >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$t/containerd.log"; return 1; }
    sleep 0.1
  done
  "${ctr[@]}" images import "$pause_tar" || return 1
  "${ctr[@]}" images import "$busybox_tar" || return 1
  # list once, then search: `ctr ... | grep -m1` under pipefail fails when grep stops reading early (SIGPIPE)
  local listed
  listed=$("${ctr[@]}" images ls -q) || return 1
  grep -qx "$PAUSE_REF" <<<"$listed" || { echo "$PAUSE_REF not listed after import"; return 1; }
  busybox_ref=$(grep -m1 "^$BUSYBOX_REPO:" <<<"$listed") || { echo "no $BUSYBOX_REPO image"; return 1; }
  PATH=$t/bin:$PATH "${ctr[@]}" run --rm "$busybox_ref" "kubesmith-verify-bb-$$" \
    sh -c 'test -x /usr/sbin/httpd && test -x /usr/bin/nc && echo busybox-sh-ok' | grep -qx busybox-sh-ok ||
    { echo "busybox container did not print busybox-sh-ok"; tail -n 20 "$t/containerd.log"; return 1; }
  PATH=$t/bin:$PATH "${ctr[@]}" run --rm "$PAUSE_REF" "kubesmith-verify-pause-$$" >"$t/pause.out" 2>&1 &
  run_pid=$!
  for ((i = 0; i < 100; i++)); do
    "${ctr[@]}" task ls 2>/dev/null | grep -q "^kubesmith-verify-pause-$$ .*RUNNING" && break
    sleep 0.1
  done
  "${ctr[@]}" task kill -s SIGTERM "kubesmith-verify-pause-$$" || { cat "$t/pause.out"; return 1; }
  for ((i = 0; i < 100; i++)); do
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$run_pid" 2>/dev/null && { echo "pause still running 10 s after SIGTERM"; return 1; }
  rc=0
  wait "$run_pid" || rc=$?
  [[ $rc == 0 ]] || { echo "pause exited $rc on SIGTERM, expected 0"; cat "$t/pause.out"; return 1; }
  ctr_teardown
  echo "imported $PAUSE_REF and $busybox_ref; busybox ran sh; pause exited 0 on SIGTERM"
}

verify_images() {
  local image found=0 containerd_tgz runc_bin pause_tar busybox_tar
  for image in $(compgen -G "$MIRROR/images/*.tar"); do
    found=1
    check "$(basename "$image") sha256" sums_ok "$(dirname "$image")" "$(basename "$image").sha256"
    check "$(basename "$image") digests (manifest, config, layer diff_id)" "$PY" "$MKIMAGE" inspect "$image"
  done
  [[ $found == 1 ]] || { missing "images" images && return 0; }
  pause_tar=$MIRROR/images/pause-$PAUSE_VERSION.tar
  busybox_tar=$(newest "$MIRROR/images/busybox-*.tar")
  [[ -f $pause_tar ]] || missing "$pause_tar" images
  [[ -n $busybox_tar ]] || missing "busybox image" images
  containerd_tgz=$(newest "$MIRROR/github.com/containerd/containerd/releases/download/v*/containerd-*-linux-$ARCH.tar.gz")
  runc_bin=$(newest "$MIRROR/github.com/opencontainers/runc/releases/download/v*/runc.$ARCH")
  if [[ -z $containerd_tgz || -z $runc_bin ]]; then
    if [[ $VERIFY_STRICT == 1 ]]; then
      missing "containerd/runc (needed to import and run the images)" containerd
    else
      say "  note  images not run through containerd: no containerd/runc in the mirror yet (group containerd)"
    fi
    return 0
  fi
  [[ -f $pause_tar && -n $busybox_tar ]] || return 0
  # with every containerd in the mirror (1.6 and 1.7: a node runs the images before and after an upgrade)
  for containerd_tgz in $(compgen -G \
    "$MIRROR/github.com/containerd/containerd/releases/download/v*/containerd-*-linux-$ARCH.tar.gz" | sort -V); do
    check "images import and run with ctr (containerd $(basename "$(dirname "$containerd_tgz")"))" \
      ctr_smoke "$pause_tar" "$busybox_tar" "$containerd_tgz" "$runc_bin"
  done
}

# hash_ok DIR FILE: DIR/FILE.sha256 holds FILE's sha256 alone (dl.k8s.io's format) and it matches
hash_ok() {
  local want
  want=$(<"$1/$2.sha256")
  [[ $want =~ ^[0-9a-f]{64}$ ]] || { echo "$2.sha256 is not a bare sha256: '$want'"; return 1; }
  (cd "$1" && printf '%s  %s\n' "$want" "$2" | sha256sum --strict -c -)
}

# output_line LINE CMD...: CMD succeeds and one line of its output is exactly LINE; prints the output
output_line() {
  local line=$1 out
  shift
  out=$("$@" 2>&1) || {
    printf '%s\n' "$out"
    return 1
  }
  printf '%s\n' "$out" | tr -s '\n' ' '
  printf '\n'
  grep -qxF -- "$line" <<<"$out" || {
    printf 'expected the line "%s" in the output\n' "$line"
    return 1
  }
}

verify_kubernetes() {
  local dir v bin found=0
  for dir in $(compgen -G "$MIRROR/dl.k8s.io/release/v*/bin/linux/$ARCH"); do
    found=1
    v=${dir%/bin/linux/"$ARCH"}
    v=${v##*/}
    for bin in "${K8S_BINARIES[@]}"; do
      [[ -f $dir/$bin ]] || { missing "kubernetes $v $bin" kubernetes && continue; }
      check "kubernetes $v: $bin.sha256" hash_ok "$dir" "$bin"
      if [[ $bin == kubectl ]]; then
        check "kubernetes $v: kubectl version --client" output_has "GitVersion:\"$v\"" "$dir/$bin" version --client
      else
        check "kubernetes $v: $bin --version" output_line "Kubernetes $v" "$dir/$bin" --version
      fi
    done
  done
  [[ $found == 1 ]] || missing "Kubernetes binaries" kubernetes
}

verify() {
  local group start
  start=$(now_ms)
  ensure_python
  VERIFY_FAILURES=0
  [[ -d $MIRROR ]] || die "no mirror at $MIRROR: run tools/build-artifacts.sh first"
  for group in "$@"; do
    say "verify $group:"
    "verify_$group"
  done
  say "verify index.txt:"
  if [[ -f $MIRROR/index.txt ]]; then
    check "index.txt matches every file it lists" sums_ok "$MIRROR" index.txt
  else
    missing index.txt all
  fi
  say "verify: $VERIFY_FAILURES failure(s) in $(($(now_ms) - start)) ms"
}

# ---------------------------------------------------------------- main

# select_groups ARG...: SELECTED = the named groups ("all" or none: GROUPS_ALL), validated, no duplicates
SELECTED=()
select_groups() {
  local arg group names
  for arg in "${@:-all}"; do
    case $arg in
      all) names=("${GROUPS_ALL[@]}") ;;
      containerd | etcd | images | kubernetes) names=("$arg") ;;
      *)
        usage >&2
        die "unknown group '$arg' (expected one of: all ${GROUPS_ALL[*]} ${GROUPS_NAMED[*]})"
        ;;
    esac
    for group in "${names[@]}"; do
      [[ " ${SELECTED[*]} " == *" $group "* ]] || SELECTED+=("$group")
    done
  done
}

# group_of PATH: the group whose recipes make this mirror path (fails when none does)
group_of() {
  local entry
  for entry in "${PATH_GROUPS[@]}"; do
    [[ $1 == "${entry%% *}"* ]] && { printf '%s\n' "${entry##* }"; return 0; }
  done
  return 1
}

# pins [PATH...]: the download_pins entries (mirror path = pin key) of PATHs, else of every file but checksum
# files, from index.txt; fails naming a path the index lacks
pins() {
  local index=$MIRROR/index.txt path sha missing=()
  [[ -s $index ]] || die "no $index: build the mirror first"
  echo "download_pins:"
  if [[ $# == 0 ]]; then
    awk '$2 !~ /(\.sha256|\.sha256sum|SHA256SUMS)$/ { printf "  %s: %s\n", $2, $1 }' "$index"
    return 0
  fi
  for path in "$@"; do
    sha=$(awk -v p="$path" '$2 == p { print $1; exit }' "$index")
    if [[ -n $sha ]]; then printf '  %s: %s\n' "$path" "$sha"; else missing+=("$path"); fi
  done
  [[ ${#missing[@]} == 0 ]] || die "not in $index: ${missing[*]}"
}

# needs PATH...: build every group that makes one of the paths, then check that each path is in the mirror
needs() {
  local path group groups=() unknown=() absent=()
  [[ $# -gt 0 ]] || die "needs: no mirror paths given"
  for path in "$@"; do
    [[ $path != /* && $path != *..* ]] || die "needs: '$path' is not a path inside the mirror"
    if group=$(group_of "$path"); then
      [[ " ${groups[*]} " == *" $group "* ]] || groups+=("$group")
    else
      unknown+=("$path")
    fi
  done
  [[ ${#unknown[@]} == 0 ]] || die "no recipe here makes: ${unknown[*]} (known prefixes: ${PATH_GROUPS[*]%% *})"
  select_groups "${groups[@]}"
  lock exclusive
  build "${SELECTED[@]}"
  for path in "$@"; do [[ -f $MIRROR/$path ]] || absent+=("$path"); done
  [[ ${#absent[@]} == 0 ]] ||
    die "the mirror lacks ${absent[*]} after building ${SELECTED[*]}: no recipe here makes that version (see the table above)"
  say "needs: all ${#} paths are in $MIRROR"
}

build() {
  local start group line status name version inputs path
  start=$(now_ms)
  [[ $(dpkg --print-architecture) == "$ARCH" ]] || die "this script builds $ARCH artifacts and must run on $ARCH"
  load_candidates "${DEB_PACKAGES[@]}"
  say "mirror: $MIRROR (work dir $WORK)"
  for group in "$@"; do
    "group_$group"
  done
  write_index
  if [[ ${#BUILT_GROUPS[@]} -gt 0 ]]; then
    VERIFY_STRICT=0
    verify "${BUILT_GROUPS[@]}"
    if [[ $VERIFY_FAILURES != 0 ]]; then
      # Forget the cache keys of this run's artifacts so that the next run rebuilds them.
      for name in "${BUILT_NAMES[@]}"; do rm -f "$MIRROR/.recipes/$name.recipe"; done
      die "freshly built artifacts failed verification (FAIL above): ${BUILT_NAMES[*]} will be rebuilt next run"
    fi
  fi
  say ""
  say "artifact               version             status  source (Debian)                              path"
  for line in "${SUMMARY[@]}"; do
    IFS='|' read -r status name version inputs path <<<"$line"
    printf '%-22s %-19s %-7s %-44s %s\n' "$name" "$version" "$status" "$inputs" "${path#"$MIRROR"/}"
  done
  say "index: $MIRROR/index.txt ($(wc -l <"$MIRROR/index.txt") files)"
  say "total: $(($(now_ms) - start)) ms"
}

# lock shared|exclusive: one builder at a time; verifiers wait for it and may run together
lock() {
  mkdir -p "$MIRROR" "$WORK"
  exec 9>>"$MIRROR/.lock"
  flock "--$1" -w 900 9 || die "timed out waiting for $MIRROR/.lock (another build-artifacts.sh is running)"
}

main() {
  case ${1:-all} in
    -h | --help | help)
      usage
      ;;
    needs)
      shift
      needs "$@"
      ;;
    pins)
      shift
      lock shared
      pins "$@"
      ;;
    verify)
      shift
      select_groups "$@"
      lock shared
      verify "${SELECTED[@]}"
      [[ $VERIFY_FAILURES == 0 ]] || exit 1
      ;;
    *)
      select_groups "$@"
      lock exclusive
      build "${SELECTED[@]}"
      ;;
  esac
}

main "$@"
