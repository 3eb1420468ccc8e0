#!/usr/bin/env bash
# Run the test suite on another Python and NumPy than CI's (Python 3.11, the newest NumPy):
# pyproject.toml accepts Python >= 3.11, NumPy >= 1.24 and any torch 2.x, and students run the
# grader (the student wheel) on whatever they have.
#
#     scripts/compat.sh PYTHON NUMPY [pytest arguments...]
#     scripts/compat.sh python3.11 1.26.4
#     scripts/compat.sh ~/.pyenv/versions/3.13.0/bin/python 2.5.5 tests/sandbox tests/check
#
# It makes a virtual environment in $COMPAT_DIR (default /root/compat, or ~/compat; not under /tmp,
# where the sandbox gives its children no private /tmp) named after both versions, installs
# torch==2.13.0 first (on Python 3.11 a CPU build from these machines' disk; on any other Python,
# pip takes a CUDA build of several GB from PyPI), then NumPy NUMPY and the project, and runs the
# suite with NumPy held at NUMPY. The environment is kept for the next run.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
python=$1 numpy=$2
shift 2
root="$(cd "$(dirname "$0")/.." && pwd)"
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || {
  echo "compat.sh: $python is not a Python that runs" >&2; exit 2; }
base=${COMPAT_DIR:-$([ -w /root ] && echo /root/compat || echo "$HOME/compat")}
venv="$base/py$version-numpy$numpy"
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$base"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q torch==2.13.0 "numpy==$numpy"
  "$venv/bin/pip" install -q -e "$root[test]" "numpy==$numpy"
fi
"$venv/bin/python" -c 'import sys, numpy, torch; print(f"Python {sys.version.split()[0]}, NumPy {numpy.__version__}, torch {torch.__version__}")'
cd "$root"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -rs "$@"
