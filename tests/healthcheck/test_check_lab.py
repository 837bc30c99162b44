# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keepalived-check under real keepalived and systemd, in the lab images (Debian 12 and 13).

What only a real keepalived and a real systemd can show: that keepalived hands the quoted
`all --check '...'` script line over as the program expects (keepalived 2.2.7 and 2.3.3), that the
program runs as the unprivileged script user with the image's Python (3.11 and 3.13), and the
systemd check and --remediate-unit against systemd as PID 1.

The containers have no network (--network none). keepalived's instance sits on a veth pair that
exists only inside the container and is kept down, so the instance stays in FAULT and sends no
VRRP packet anywhere; its tracking script still runs every second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from hc_support import PACKAGE, render_launcher

pytestmark = pytest.mark.containers

TOP = Path(__file__).resolve().parents[2]
PODMAN = ["podman", "--runtime=runc"]

KEEPALIVED_CONF = """\
global_defs {
    router_id HCLAB
    enable_script_security
    script_user nobody nogroup
}

vrrp_script chk_combined {
    script "/usr/local/bin/keepalived-check --syslog all --check 'file --path /etc/keepalived/down' --check process:name=keepalived"
    interval 1
    timeout 3
    fall 1
    rise 1
}

vrrp_instance VI_HC {
    state BACKUP
    interface hc0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.1/32 dev hc0
    }
    track_script {
        chk_combined
    }
}
"""


def podman(*args, check=True, timeout=120):
    return subprocess.run(PODMAN + list(args), capture_output=True, text=True, check=check, timeout=timeout)


class Lab:
    def __init__(self, name):
        self.name = name

    def sh(self, script, check=True):
        return podman("exec", self.name, "sh", "-c", script, check=check)

    def journal(self, *selectors):
        return self.sh("journalctl --no-pager -o cat " + " ".join(selectors), check=False).stdout

    def wait_journal(self, selectors, text, timeout=20, count=1):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = self.journal(*selectors)
            if out.count(text) >= count:
                return out
            time.sleep(0.3)
        raise AssertionError(f"{text!r} did not appear in the journal: {self.journal(*selectors)[-1500:]}")


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def lab(request):
    suite = request.param
    image = f"localhost/failover-keepalived-lab:{suite}"
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (apt-get install -y podman runc)")
    if os.geteuid() != 0:
        pytest.skip("the lab containers need root")
    if podman("image", "exists", image, check=False).returncode != 0:
        pytest.skip(f"lab image {image} is not built (lab/build-image.sh)")
    name = f"hc-test-{suite}-{os.getpid()}"
    podman("rm", "-f", name, check=False)
    podman("run", "-d", "--name", name, "--systemd=always", "--network", "none",
           "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
           "--cap-add", "NET_ADMIN,NET_RAW,NET_BROADCAST", image)
    lab = Lab(name)
    try:
        booted = subprocess.run(["bash", str(TOP / "lab" / "wait-booted.sh"), "--timeout", "120", name],
                                capture_output=True, text=True, check=False)
        assert booted.returncode == 0, booted.stderr
        # The layout the healthcheck role installs: the compiled package plus sh launcher.
        lab.sh("mkdir -p /usr/local/lib/keepalived-check")
        podman("cp", str(PACKAGE), f"{name}:/usr/local/lib/keepalived-check/keepalived_check")
        lab.sh("cat > /usr/local/bin/keepalived-check <<'EOF'\n%sEOF\n"
               % render_launcher("/usr/bin/python3", "/usr/local/lib/keepalived-check"))
        lab.sh("cd /usr/local/lib/keepalived-check && find . -name __pycache__ -prune -exec rm -rf {} +"
               " && chown -R root:root . /usr/local/bin/keepalived-check"
               " && find . -type d -exec chmod 0755 {} + && find . -type f -exec chmod 0644 {} +"
               " && chmod 0755 /usr/local/bin/keepalived-check"
               " && python3 -m compileall -q /usr/local/lib/keepalived-check")
        lab.sh("ip link add hc0 type veth peer name hc1 && ip link set hc0 down && ip link set hc1 down")
        lab.sh(f"cat > /etc/keepalived/keepalived.conf <<'EOF'\n{KEEPALIVED_CONF}EOF\n")
        # (no `keepalived -t` here: 2.2.7 sends itself SIGTERM when testing a config whose
        # script user is not root; the restart below fails loudly on a bad config anyway)
        lab.sh("rm -f /etc/keepalived/down && systemctl restart keepalived && systemctl is-active keepalived")
        yield lab
    finally:
        podman("rm", "-f", "-t", "2", name, check=False)


def test_keepalived_passes_the_quoted_check_line(lab):
    lab.wait_journal(["-u", "keepalived"], "VRRP_Script(chk_combined) succeeded")
    lab.sh("touch /etc/keepalived/down")
    try:
        lab.wait_journal(["-u", "keepalived"], "VRRP_Script(chk_combined) failed")
        # The reason, logged by the program itself (running as nobody) through --syslog:
        lab.wait_journal(["-t", "keepalived-check"],
                         "keepalived-check all: file: maintenance file /etc/keepalived/down exists")
    finally:
        lab.sh("rm -f /etc/keepalived/down")
    out = lab.wait_journal(["-u", "keepalived"], "VRRP_Script(chk_combined) succeeded", count=2)
    assert "SECURITY VIOLATION" not in out


def test_runs_with_the_image_python(lab):
    version = lab.sh("/usr/bin/python3 -c 'import sys; print(sys.version_info[:2])'").stdout.strip()
    assert version in ("(3, 11)", "(3, 13)")
    result = lab.sh("setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/local/bin/keepalived-check "
                    "process --name keepalived; echo rc=$?")
    assert result.stdout.strip() == "rc=0", result.stderr


def test_systemd_check_and_remediate_unit(lab):
    check = "/usr/local/bin/keepalived-check"
    assert lab.sh(f"{check} systemd --unit keepalived.service; echo rc=$?").stdout.strip() == "rc=0"
    # A unit name that starts with a dash must be attached with "=", or it reads as an option.
    assert lab.sh(f"{check} systemd --unit=-.mount; echo rc=$?").stdout.strip() == "rc=0"
    missing = lab.sh(f"{check} systemd --unit hc-no-such.service; echo rc=$?")
    assert missing.stdout.strip() == "rc=1"
    assert missing.stderr == "keepalived-check systemd: unit hc-no-such.service is inactive\n"
    lab.sh("systemctl stop keepalived")
    stopped = lab.sh(f"{check} systemd --unit keepalived.service; echo rc=$?")
    assert (stopped.stdout.strip(), stopped.stderr) == ("rc=1", "keepalived-check systemd: unit keepalived.service is inactive\n")
    healed = lab.sh(f"{check} --timeout 12 --remediate-unit keepalived.service --remediate-settle 1 "
                    f"systemd --unit keepalived.service; echo rc=$?")
    assert healed.stdout.strip() == "rc=0", healed.stderr
    assert lab.sh("systemctl is-active keepalived").stdout.strip() == "active"
    state = lab.sh("cat /run/keepalived-check/remediation.json").stdout
    assert '"unit:keepalived.service"' in state
