"""The execution environment path: ansible-builder makes a build context from the example definition,
and its own introspection reads the collection's meta/execution-environment.yml from the installed tarball."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "examples" / "execution-environment" / "execution-environment.yml"


def run(cmd, cwd=TOP):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_ansible_builder_creates_a_build_context_and_reads_the_collection_requirements(tmp_path):
    context = tmp_path / "context"
    rc, out = run(["ansible-builder", "create", "-f", str(EXAMPLE), "-c", str(context)])
    assert rc == 0, out
    containerfile = (context / "Containerfile").read_text()
    base = yaml.safe_load(EXAMPLE.read_text())["images"]["base_image"]["name"]
    assert 'EE_BASE_IMAGE="%s"' % base in containerfile, containerfile
    assert "ansible-galaxy collection install" in containerfile, containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert [c["name"] for c in galaxy["collections"]] == ["failover.keepalived"], galaxy

    # What the build runs inside the image after installing the collections: the same script, on the
    # installed tarball, so a meta file pointing at a file the tarball lacks fails here.
    rc, out = run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path)])
    assert rc == 0, out
    tarball = next(tmp_path.glob("failover-keepalived-*.tar.gz"))
    installed = tmp_path / "collections"
    rc, out = run(["ansible-galaxy", "collection", "install", "--force", "--no-deps", "-p", str(installed), str(tarball)])
    assert rc == 0, out
    assert (installed / "ansible_collections/failover/keepalived/meta/execution-environment.yml").is_file()
    rc, out = run(["python3", str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(installed)])
    assert rc == 0 and "Expected requirements file not present" not in out, out
    assert yaml.safe_load(out) == {"python": [], "system": []}, out
