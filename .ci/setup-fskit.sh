#!/usr/bin/env bash
# Install what tests/fskit needs on a Debian (bookworm) machine, as root.
#
#   * system packages: libfuse3-dev + pkg-config (to build pyfuse3),
#     e2fsprogs (mkfs.ext4 for the coarse-ext4 image), and -- only when
#     missing -- a C compiler and the venv/header packages of Debian's python3;
#   * a venv holding pyfuse3 + trio, used to run the tickfs FUSE daemon.
#
# The venv lives at ${MODWRITE_TICKFS_VENV:-.ci/.venv-tickfs} (a relative path
# is taken relative to the repository root) and is built with
# ${MODWRITE_TICKFS_BASE_PYTHON:-python3} (pyfuse3 needs Python >= 3.10).
#
# Idempotent: apt is only touched when a package is missing, `apt-get update`
# only runs when installing without it fails, and an existing venv that
# already imports pyfuse3 and trio is reused as is.
#
# All progress goes to stderr; stdout is exactly one line, the venv's python,
# so callers can do:
#     export MODWRITE_TICKFS_PYTHON="$(.ci/setup-fskit.sh)"
#
# Deliberately NOT installed: the Debian `fuse3` package (not needed: as root,
# libfuse mounts directly and tests unmount with umount(8)).
set -euo pipefail

log() { printf 'setup-fskit: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MODWRITE_TICKFS_VENV:-.ci/.venv-tickfs}"
case "$venv" in
  /*) ;;
  *) venv="$repo_root/$venv" ;;
esac
base_python="${MODWRITE_TICKFS_BASE_PYTHON:-python3}"

# ---------------------------------------------------------------- apt ----
is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for pkg in libfuse3-dev pkg-config e2fsprogs; do
  is_installed "$pkg" || missing+=("$pkg")
done
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)

# Debian's own python3 needs extra packages for `-m venv` and for building C
# extensions; other interpreters (pyenv, python.org builds) bring their own.
base_python_path="$(command -v "$base_python" || true)"
if [[ -z "$base_python_path" ]]; then
  is_installed python3 || missing+=(python3)
  base_python_path=/usr/bin/python3
fi
case "$(readlink -f "$base_python_path")" in
  /usr/bin/python3*)
    is_installed python3-venv || missing+=(python3-venv)
    is_installed python3-dev || missing+=(python3-dev)
    ;;
esac

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing packages ${missing[*]} and not root; install them or rerun as root"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "installing ${missing[*]}"
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
    log "install failed; running apt-get update and retrying"
    apt-get update >&2
    apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
else
  log "system packages already present"
fi

# --------------------------------------------------------------- venv ----
venv_python="$venv/bin/python"
if [[ -x "$venv_python" ]] && "$venv_python" -c 'import pyfuse3, trio' >/dev/null 2>&1; then
  log "venv $venv already has pyfuse3 and trio"
else
  if [[ ! -x "$venv_python" ]]; then
    log "creating venv $venv with $base_python_path"
    "$base_python_path" -c 'import sys; assert sys.version_info >= (3, 10), "pyfuse3 needs Python >= 3.10"'
    "$base_python_path" -m venv "$venv"
    # Keep the venv out of git without touching any tracked .gitignore.
    printf '*\n' >"$venv/.gitignore"
  fi
  log "pip-installing pyfuse3 and trio into $venv"
  "$venv_python" -m pip install --quiet --disable-pip-version-check 'pyfuse3>=3.2' 'trio>=0.22' >&2
  "$venv_python" -c 'import pyfuse3, trio'
fi

printf '%s\n' "$venv_python"
