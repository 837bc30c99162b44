"""Static gates: lint, documentation in sync, changelog, and the built collection installs and parses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parents[1].name for p in TOP.glob("roles/*/meta/argument_specs.yml"))


def run(cmd, **kw):
    proc = subprocess.run(cmd, cwd=kw.pop("cwd", TOP), capture_output=True, text=True, check=False, **kw)
    return proc.returncode, proc.stdout + proc.stderr


def test_ansible_lint_production_profile():
    rc, out = run(["ansible-lint", "--nocolor", "--profile", "production"], timeout=600)
    assert rc == 0, out[-5000:]


@pytest.mark.parametrize("role", ROLES)
def test_defaults_equal_argument_spec_options(role):
    defaults = yaml.safe_load((TOP / "roles" / role / "defaults/main.yml").read_text()) or {}
    spec = yaml.safe_load((TOP / "roles" / role / "meta/argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    # Private inputs (__ROLE_*) are passed by the including role: required, never defaulted.
    private = {name for name in options if name.startswith("__")}
    for name in private:
        assert name.startswith("__" + role + "_") and options[name].get("required"), name
        assert "default" not in options[name], "%s: a private input has no default" % name
    options = {name: value for name, value in options.items() if name not in private}
    assert set(defaults) == set(options), "defaults/main.yml and meta/argument_specs.yml list different variables"
    for name, value in defaults.items():
        assert options[name].get("default") == value, "%s: documented default differs from defaults/main.yml" % name
        assert name.startswith(role + "_"), "%s lacks the role prefix" % name


def test_role_readmes_are_generated_from_argument_specs():
    rc, out = run([sys.executable, "tools/role_docs.py", "--check"])
    assert rc == 0, out


def test_readme_benchmark_tables_are_written_from_the_results():
    rc, out = run([sys.executable, "tools/benchmark_tables.py", "--check"])
    assert rc == 0, out


def test_changelog_fragments_lint():
    rc, out = run(["antsibull-changelog", "lint"])
    assert rc == 0, out


def test_built_collection_installs_and_site_playbook_parses(tmp_path):
    rc, out = run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path)])
    assert rc == 0, out
    tarballs = list(tmp_path.glob("failover-keepalived-*.tar.gz"))
    assert len(tarballs) == 1, out
    listing = subprocess.run(["tar", "tzf", str(tarballs[0])], capture_output=True, text=True, check=True).stdout
    assert not [n for n in listing.split() if n.startswith((".venv", ".ansible", "tests/", "molecule/"))], listing
    assert "LICENSE" in listing.split(), "the licence text must ship in the tarball"
    dest = tmp_path / "collections"
    rc, out = run(["ansible-galaxy", "collection", "install", "--force", "-p", str(dest), str(tarballs[0])])
    assert rc == 0, out
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest))
    for playbook in ("failover.keepalived.site", "failover.keepalived.plan", "failover.keepalived.drill",
                     "failover.keepalived.upgrade"):
        rc, out = run(["ansible-playbook", "--syntax-check", "-i", "examples/two-node/hosts.yml", playbook],
                      cwd=tmp_path, env=env)
        assert rc == 0, out
    # The metrics program reads keepalived's dumps with the collection's own probe and parser, linked in.
    state = dest / "ansible_collections/failover/keepalived/roles/healthcheck/files/keepalived_check/keepalived_state"
    for name in ("_keepalived_probe.py", "_keepalived_parse.py"):
        assert (state / name).read_text() == (TOP / "plugins" / "module_utils" / name).read_text()
    rc, out = run(["ansible-doc", "-t", "module", "failover.keepalived.keepalived_config"], cwd=tmp_path, env=env)
    assert rc == 0 and "keepalived -t" in out, out
    rc, out = run(["ansible-doc", "-t", "filter", "-l", "failover.keepalived"], cwd=tmp_path, env=env)
    filters = len(list((TOP / "plugins" / "filter").glob("*.yml")))
    assert rc == 0 and "UNDOCUMENTED" not in out and out.count("failover.keepalived.") == filters, out


def test_release_changelog_names_every_module_filter_and_role(tmp_path):
    """What `antsibull-changelog release` writes for the version in galaxy.yml, run on a copy of the tree:
    CHANGELOG.rst with every module, filter and role as new in this version (from their version_added)."""
    copy = tmp_path / "ansible_collections" / "failover" / "keepalived"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=TOP, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = TOP / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(source.read_bytes())
    rc, out = run(["antsibull-changelog", "release", "--date", "2026-12-06"], cwd=copy)
    assert rc == 0, out
    changelog = (copy / "CHANGELOG.rst").read_text()
    version = yaml.safe_load((TOP / "galaxy.yml").read_text())["version"]
    assert "\nv%s\n" % version in changelog, changelog[:500]
    sections = {title: changelog.split(title + "\n", 1)[1].split("\n\n\n", 1)[0] if title + "\n" in changelog else ""
                for title in ("New Modules", "New Roles", "Filter")}
    for module in sorted((TOP / "plugins" / "modules").glob("*.py")):
        assert "failover.keepalived.%s - " % module.stem in sections["New Modules"], module.stem
    for filter_doc in sorted((TOP / "plugins" / "filter").glob("*.yml")):
        assert "failover.keepalived.%s - " % filter_doc.stem in sections["Filter"], filter_doc.stem
    for role in ROLES:
        assert "failover.keepalived.%s - " % role in sections["New Roles"], role


def test_installed_collections_satisfy_the_test_requirements():
    """tests/requirements.yml names every collection the tests use besides this one; the installed
    versions (from the pinned ansible package) must satisfy it, and galaxy.yml's dependency with it."""
    from ansible.utils.version import SemanticVersion

    proc = subprocess.run(["ansible-galaxy", "collection", "list", "--format", "json"], cwd=TOP,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    installed = {}
    for collections in json.loads(proc.stdout).values():
        for name, info in collections.items():
            installed.setdefault(name, info["version"])
    wanted = {c["name"]: c["version"] for c in yaml.safe_load((TOP / "tests/requirements.yml").read_text())["collections"]}
    wanted_by_galaxy = yaml.safe_load((TOP / "galaxy.yml").read_text())["dependencies"]
    assert set(wanted_by_galaxy) <= set(wanted), "galaxy.yml's dependencies belong in tests/requirements.yml too"
    for name, spec in list(wanted.items()) + list(wanted_by_galaxy.items()):
        assert name in installed, "%s is not installed" % name
        have = SemanticVersion(installed[name])
        for clause in spec.split(","):
            op = clause.strip().rstrip("0123456789.")
            bound = SemanticVersion(clause.strip()[len(op):])
            assert {">=": have >= bound, "<": have < bound, "<=": have <= bound, ">": have > bound,
                    "==": have == bound}[op], "%s %s does not satisfy %s" % (name, installed[name], spec)
    # Every collection a test, scenario or lab file names is declared.
    used = set()
    for path in list(TOP.glob("molecule/**/*.yml")) + list(TOP.glob("lab/**/*")) + list(TOP.glob("tests/**/*.py")):
        if path.is_file():
            used.update(re.findall(r"\b(containers\.podman|community\.[a-z_]+|ansible\.posix)\.[a-z_]+\b",
                                   path.read_text(errors="replace")))
    assert used <= set(wanted), sorted(used - set(wanted))
