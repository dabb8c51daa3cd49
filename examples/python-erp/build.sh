#!/usr/bin/env bash
# Builds the Python ERP provider into a WebAssembly component.
#
#   examples/python-erp/build.sh OUT.wasm
#
# Creates once (and reuses) a venv with a pinned componentize-py under the
# repository's target/python-venv, then componentizes app.py for the
# contract's `erp-plugin` world. The contract WIT is the newest release in
# the repository's wit/ (wit/<version>/); set B2C_WIT=DIR to use another copy (e.g. one written by
# `b2c-host wit --out DIR` or downloaded from GET /api/v1/contract).
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
WORLD=erp-plugin

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT.wasm" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
case "$1" in
    /*) out=$1 ;;
    *) out=$PWD/$1 ;;
esac
wit=${B2C_WIT:-$(find "$repo/wit" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n 1)}
venv=$repo/target/python-venv
stamp=$venv/.componentize-py-$COMPONENTIZE_PY_VERSION

python=${PYTHON:-python3}
mkdir -p "$repo/target"
# Two builds at once (e.g. parallel tests) create the venv once.
if command -v flock > /dev/null; then
    exec 9> "$repo/target/python-venv.lock"
    flock 9
fi
if [ ! -e "$stamp" ]; then
    echo "build.sh: creating $venv with componentize-py $COMPONENTIZE_PY_VERSION" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY_VERSION"
    touch "$stamp"
fi

# componentize-py generates the `wit_world` bindings itself and bundles the
# app with a CPython runtime; build in a scratch dir so that nothing is
# written next to the sources.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/app.py" "$work/"
mkdir -p "$(dirname "$out")"
(
    cd "$work"
    # No VIRTUAL_ENV: the app has no dependencies, and the build venv's
    # site-packages must not be bundled into the component.
    env -u VIRTUAL_ENV "$venv/bin/componentize-py" --quiet -d "$wit" -w "$WORLD" \
        componentize app -p "$work" -o "$work/out.wasm"
)
mv "$work/out.wasm" "$out"
echo "build.sh: wrote $out ($(wc -c < "$out") bytes)" >&2
