#!/usr/bin/env bash
# Install, build, and run switchyard on policies/demo.yaml: mock providers,
# no API keys, no network. Then, from another shell:
#   curl -s localhost:8080/v1/chat/completions -H 'content-type: application/json' \
#        -H 'x-user-id: alice' -d '{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}'
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build ] || meson setup build --buildtype=release -Dtests=false
ninja -C build
./build/router/switchyard validate policies/demo.yaml
exec ./build/router/switchyard serve -c policies/demo.yaml "$@"
