# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived_nonlocal_bind and keepalived_tcp_retries2, applied for real by the role's own host tasks.

The lab's containers cannot change kernel settings (/proc/sys is read-only there, and making it
writable would let them write the host's), so this runs the keepalived role's ``host`` tasks with
ansible-playbook on this machine, inside a network namespace the test creates: the three settings
are per network namespace, so nothing outside it changes (the test checks the host's own values
too). The plan comes from the collection's model; ansible.posix.sysctl writes the sysctl.d file and
applies it at once; a second run changes nothing; a fresh namespace that loads the file as
systemd-sysctl does at boot gets the same values; turning a setting off writes and applies that.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from invariant_support import _collections_root

COLLECTIONS = _collections_root()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
from ansible_collections.failover.keepalived.plugins.module_utils import _model  # noqa: E402

KEYS = ("net.ipv4.ip_nonlocal_bind", "net.ipv6.ip_nonlocal_bind", "net.ipv4.tcp_retries2")
PLAY = """\
- name: The keepalived role's host tasks
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run them
      ansible.builtin.include_role:
        name: failover.keepalived.keepalived
        tasks_from: host
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("sysctl"),
                                reason="needs root, ip netns and sysctl")


def view(**settings):
    """A host of no instance, with a block of its own in conf.d (a host with nothing there is refused)."""
    return dict({"router_id": "KA1", "instances": [], "scripts": [], "script_user": "keepalived_script",
                 "extra_config": "static_ipaddress {\n    192.0.2.1/32 dev lo\n}\n",
                 "check_command": "/usr/local/bin/keepalived-check", "state_dir": "/run/keepalived-check",
                 "track_dir": "/run/keepalived-check/track", "addresses": {}}, **settings)


@pytest.fixture
def netns():
    """Two fresh network namespaces (the host, and the same host after a reboot), removed afterwards."""
    names = ["fk-sysctl-%s-%d" % (uuid.uuid4().hex[:6], n) for n in (1, 2)]
    for name in names:
        subprocess.run(["ip", "netns", "add", name], check=True)
    yield names
    for name in names:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="fk-sysctl."))
    (path / "play.yml").write_text(PLAY)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def values(ns=None):
    prefix = ["ip", "netns", "exec", ns] if ns else []
    out = subprocess.run(prefix + ["sysctl", "-n"] + list(KEYS), capture_output=True, text=True, check=True).stdout
    return dict(zip(KEYS, out.split()))


def converge(ns, workdir, **settings):
    """The role's host tasks in ``ns`` with the plan the model makes of ``settings``; returns the output."""
    model = _model.build({"localhost": view(**settings)})
    assert model["errors"] == []
    extra = {"__keepalived_plan": model["plans"]["localhost"],
             "__keepalived_sysctl_file": str(workdir / "60-failover-keepalived.conf"),
             "__keepalived_daemon_file": str(workdir / "default.keepalived"),
             "__keepalived_dropin": str(workdir / "keepalived.service.d" / "failover-keepalived.conf"),
             "keepalived_config_dir": str(workdir / "etc"), "ansible_python_interpreter": sys.executable}
    (workdir / "extra.json").write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    proc = subprocess.run(["ip", "netns", "exec", ns, playbook, "-i", "localhost,", "-c", "local",
                           str(workdir / "play.yml"), "-e", "@" + str(workdir / "extra.json")],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.stdout


def test_kernel_settings_are_applied_kept_and_loaded_at_boot(netns, workdir):
    first, rebooted = netns
    host_before = values()
    assert values(first)["net.ipv4.ip_nonlocal_bind"] == "0"

    out = converge(first, workdir, nonlocal_bind=True, tcp_retries2=8)
    assert "changed: [localhost]" in out
    assert values(first) == {"net.ipv4.ip_nonlocal_bind": "1", "net.ipv6.ip_nonlocal_bind": "1",
                             "net.ipv4.tcp_retries2": "8"}
    kept = (workdir / "60-failover-keepalived.conf").read_text()
    for line in ("net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1", "net.ipv4.tcp_retries2=8"):
        assert line in kept.replace(" ", ""), kept

    again = converge(first, workdir, nonlocal_bind=True, tcp_retries2=8)
    assert "changed=0" in again, again[-1500:]

    # After a reboot systemd-sysctl loads /etc/sysctl.d: the same file, in a fresh namespace.
    assert values(rebooted)["net.ipv4.tcp_retries2"] == "15"
    subprocess.run(["ip", "netns", "exec", rebooted, "sysctl", "-q", "-p", str(workdir / "60-failover-keepalived.conf")],
                   check=True)
    assert values(rebooted) == values(first)

    converge(first, workdir, nonlocal_bind=False, tcp_retries2=8)
    assert values(first)["net.ipv4.ip_nonlocal_bind"] == "0" and values(first)["net.ipv6.ip_nonlocal_bind"] == "0"
    assert "net.ipv4.ip_nonlocal_bind=0" in (workdir / "60-failover-keepalived.conf").read_text().replace(" ", "")

    # Nothing managed any more: the role's file goes, the running values are left as they are.
    left = values(first)
    converge(first, workdir)
    assert not (workdir / "60-failover-keepalived.conf").exists()
    assert values(first) == left

    assert values() == host_before, "the host's own settings changed"
