#!/usr/bin/env bash
# Regenerate every figure of vaeinfo (or run the tests), setting up .venv first when needed.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: ./reproduce.sh [--profile NAME] [--data-dir DIR] [--only NN] [--download] [--out DIR]
                      [--scheduler ADDRESS | --workers N]
       ./reproduce.sh [--data-dir DIR] --test [PYTEST-ARGS...]
       ./reproduce.sh --help

Creates .venv with vaeinfo installed (if missing, or stale because pyproject.toml changed), then
executes every notebook in notebooks/ in order with papermill and prints a summary.

Options:
  --profile NAME   parameter set from params/NAME.yaml (default: quick); shipped profiles:
                     smoke  seconds per notebook on small real subsets (what the tests run)
                     quick  every figure on a 2-core CPU in minutes (the committed figures)
                     paper  the paper's settings (uses a GPU when present)
                   any params/NAME.yaml of your own works too (output in figures/NAME/)
  --data-dir DIR   folder holding MNIST/raw/, celeba/, ... (default: $VAEINFO_DATA, else ./data)
  --only NN        run only the notebook whose name starts with NN (e.g. --only 03)
  --download       allow downloading MNIST (md5-checked by torchvision) when it is missing
  --out DIR        where figures, results/ and executed/ notebooks go
                     (default: figures/ for quick, figures/<profile>/ otherwise)
  --scheduler ADDRESS
                   train the many models of the sweep/ensemble notebooks on a running Dask cluster,
                   e.g. tcp://HOST:8786 (start it with `dask scheduler` and `dask worker tcp://HOST:8786`)
  --workers N      ... or on a local Dask cluster of N single-threaded worker processes (1: no cluster,
                   one model after the other); default: the profile's value, else one worker per CPU
  --test           run the test suite (pytest) in the same environment; further args go to pytest, and
                   --data-dir before it sets the tests' data folder ($VAEINFO_DATA; the other options
                   are for notebook runs and refused). Installs Chromium for the browser test when
                   missing (root + apt-get); when it cannot, that test is skipped with a loud line at the
                   end (an error under CI=true). Under CI=true .venv also gets the bench extra
                   (TensorFlow), so that the TF2 anchor's test runs too
  -h, --help       show this help and exit

Without MNIST and without --download, the notebooks fall back to scikit-learn's 8x8 digits and say so;
without CelebA, notebook 05 is skipped (an error with --only 05). The data is validated before the first
notebook runs.
Environment: VAEINFO_DATA (data folder), VAEINFO_PYTHON (the Python 3.11 used to create .venv), CI.
Exit status: 0 on success (skipped notebooks included), 1 if a notebook failed or the data is corrupt,
2 on bad usage or a failed setup, 130 when interrupted; with --test, pytest's own (0 passed, 1 a test
failed, 2 interrupted, 4 a pytest usage error, 5 no test collected; 1 for a skipped browser test under CI).
EOF
}

die() { echo "reproduce.sh: error: $*" >&2; exit 2; }
nonempty() { [ -n "$2" ] || die "$1 needs a value, got an empty one"; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
profile=quick
data_dir=""
only=""
out=""
download=0
scheduler=""
workers=""
mode=run
pytest_args=()
run_options=()  # options that only a notebook run takes, as given (refused with --test)

while [ $# -gt 0 ]; do
  case "$1" in --profile*|--only*|--out*|--download|--scheduler*|--workers*) run_options+=("${1%%=*}") ;; esac
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --test) mode=test; shift; pytest_args=("$@"); break ;;
    --profile) [ $# -ge 2 ] || die "--profile needs a value (the NAME of params/NAME.yaml)"; profile=$2; nonempty --profile "$profile"; shift 2 ;;
    --profile=*) profile=${1#*=}; nonempty --profile "$profile"; shift ;;
    --data-dir) [ $# -ge 2 ] || die "--data-dir needs a folder"; data_dir=$2; nonempty --data-dir "$data_dir"; shift 2 ;;
    --data-dir=*) data_dir=${1#*=}; nonempty --data-dir "$data_dir"; shift ;;
    --only) [ $# -ge 2 ] || die "--only needs a two-digit notebook number, e.g. --only 03"; only=$2; nonempty --only "$only"; shift 2 ;;
    --only=*) only=${1#*=}; nonempty --only "$only"; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; out=$2; nonempty --out "$out"; shift 2 ;;
    --out=*) out=${1#*=}; nonempty --out "$out"; shift ;;
    --download) download=1; shift ;;
    --scheduler) [ $# -ge 2 ] || die "--scheduler needs an address, e.g. --scheduler tcp://HOST:8786"; scheduler=$2; nonempty --scheduler "$scheduler"; shift 2 ;;
    --scheduler=*) scheduler=${1#*=}; nonempty --scheduler "$scheduler"; shift ;;
    --workers) [ $# -ge 2 ] || die "--workers needs a number of worker processes, e.g. --workers 4"; workers=$2; nonempty --workers "$workers"; shift 2 ;;
    --workers=*) workers=${1#*=}; nonempty --workers "$workers"; shift ;;
    *) die "unknown option '$1'. Run ./reproduce.sh --help for the options." ;;
  esac
done

if [ "$mode" = test ] && [ ${#run_options[@]} -gt 0 ]; then
  die "${run_options[0]} is for notebook runs; --test takes only --data-dir before it (and pytest's options after it)."
fi
if [ "$mode" = test ] && [ -n "$data_dir" ] && [ ! -d "$data_dir" ]; then
  die "--data-dir $data_dir does not exist (or is not a folder)."
fi
if [ ! -f "$here/params/$profile.yaml" ]; then
  known=$(cd "$here/params" && ls -1 -- *.yaml 2>/dev/null | sed 's/\.yaml$//' | paste -sd, -)
  die "unknown profile '$profile'. Choose one of: ${known:-none found in params/}."
fi
if [ -n "$only" ] && ! [[ "$only" =~ ^[0-9]{2}$ ]]; then
  die "--only takes a two-digit notebook number such as 03, got '$only'."
fi
if [ -n "$workers" ] && ! [[ "$workers" =~ ^[1-9][0-9]*$ ]]; then
  die "--workers takes a positive number of worker processes such as 4, got '$workers'."
fi
if [ -n "$workers" ] && [ -n "$scheduler" ]; then
  die "give --scheduler (an existing Dask cluster) or --workers (a local one), not both."
fi
# Paths given by the user are relative to where they ran the script.
[ -z "$data_dir" ] || data_dir=$(realpath -m -- "$data_dir")
if [ "$mode" = test ] && [ -n "$data_dir" ]; then export VAEINFO_DATA="$data_dir"; fi  # what the tests read
[ -z "$out" ] || out=$(realpath -m -- "$out")
if [ -n "${VAEINFO_DATA:-}" ]; then export VAEINFO_DATA; VAEINFO_DATA=$(realpath -m -- "$VAEINFO_DATA"); fi
caller=$PWD  # the driver runs here again, so that a relative $VAEINFO_DEAP, $VAEINFO_CACHE or profile path is read
             # from the folder the user ran in, as with python -m vaeinfo.reproduce

cd "$here"

# ---------------------------------------------------------------- environment
venv="$here/.venv"
stamp="$venv/.vaeinfo-pyproject.sha256"
ci=$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')
case "$ci" in true|1|yes) ci=1; extras=test,bench ;; *) ci=0; extras=test ;; esac  # CI: the TF2 anchor's test too
want="$(sha256sum pyproject.toml | cut -d' ' -f1) [$extras]"

is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }
find_python() {
  if [ -n "${VAEINFO_PYTHON:-}" ]; then
    is_py311 "$VAEINFO_PYTHON" || die "VAEINFO_PYTHON=$VAEINFO_PYTHON is not a Python 3.11 (torch==2.14.1 wheels need it)."
    echo "$VAEINFO_PYTHON"; return
  fi
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && is_py311 "$candidate"; then
      echo "$candidate"; return
    fi
  done
  return 1
}

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  created=0
  if [ ! -x "$venv/bin/python" ]; then
    py=$(find_python) || die "vaeinfo needs Python 3.11 (torch==2.14.1 wheels); none found on PATH. Install it or set VAEINFO_PYTHON=/path/to/python3.11."
    echo "reproduce.sh: creating .venv with $py ..." >&2
    "$py" -m venv "$venv" || die "could not create $venv with $py (on Debian: apt-get install python3.11-venv)."
    created=1
  else
    echo "reproduce.sh: .venv does not match pyproject.toml [$extras] (changed, or its last set-up failed); updating it ..." >&2
  fi
  rm -f "$stamp"
  echo "reproduce.sh: installing vaeinfo[$extras] and its dependencies into .venv (a few minutes the first time) ..." >&2
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$extras]" 2> >(grep -v "^WARNING: Location" >&2); then
    [ "$created" = 0 ] || rm -rf "$venv"  # a .venv this run created and could not fill: the next run starts afresh
    die "installing the dependencies into .venv failed (see pip's message above). Fix the cause and run again; delete .venv to start from scratch."
  fi
  echo "$want" > "$stamp"
fi

# ---------------------------------------------------------------- run
# The browser test (tests/viz/test_browser.py) drives Debian's Chromium. Install it when missing and possible
# (root with apt-get); otherwise skip that one test and say so loudly at the end (an error under CI=true).
# VAEINFO_SKIP_BROWSER=1 skips it on request, installing nothing.
browser_install="apt-get install chromium   (as root, on Debian/Ubuntu)"
have_browser() { [ -x /usr/bin/chromium ]; }  # Playwright drives it directly: no chromedriver

install_browser() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  echo "reproduce.sh: installing Debian's chromium for the browser test (apt-get, about a minute) ..." >&2
  local t0; t0=$(date +%s)
  if apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       chromium >/dev/null; then
    echo "reproduce.sh: chromium installed in $(( $(date +%s) - t0 )) s" >&2
    return 0
  fi
  echo "reproduce.sh: apt-get could not install chromium (see its message above)" >&2
  return 1
}

if [ "$mode" = test ]; then
  browser_skipped=0
  if [ "${VAEINFO_SKIP_BROWSER:-0}" = 0 ] && ! have_browser; then
    install_browser || true
    if ! have_browser; then
      export VAEINFO_SKIP_BROWSER=1
      browser_skipped=1
    fi
  fi
  rc=0
  "$venv/bin/python" -m pytest "${pytest_args[@]}" || rc=$?
  if [ "$browser_skipped" = 1 ]; then
    echo "reproduce.sh: WARNING: the browser test tests/viz/test_browser.py was SKIPPED: /usr/bin/chromium is" \
         "missing and could not be installed here. Install it with: $browser_install" >&2
    if [ "$ci" = 1 ]; then echo "reproduce.sh: error: under CI=true every test must run" >&2; [ "$rc" != 0 ] || rc=1; fi
  fi
  exit "$rc"
fi
args=(--profile "$profile")
[ -z "$data_dir" ] || args+=(--data-dir "$data_dir")
[ -z "$only" ] || args+=(--only "$only")
[ -z "$out" ] || args+=(--out "$out")
[ "$download" = 0 ] || args+=(--download)
[ -z "$scheduler" ] || args+=(--scheduler "$scheduler")
[ -z "$workers" ] || args+=(--workers "$workers")
cd "$caller"
exec "$venv/bin/python" -P -m vaeinfo.reproduce "${args[@]}"  # -P: never a vaeinfo/ of the caller's folder
