"""The built tarball through galaxy-importer, the check Galaxy and Automation Hub run on every upload.

The importer lives in a virtual environment of its own, .venv/importer, made by lab/setup.sh from
.ci/requirements-importer.txt. It is configured for this machine: ansible-doc, ansible-lint (offline) and
flake8 run; ansible-test does not (the importer would run it in a container image). The run happens in a
network namespace of its own, so it proves that the import needs no network.

One import serves every test here: it must end without an ERROR line, any WARNING must be one of the known
kinds below, and its result must show the collection's modules, filters, roles and playbooks with their
documentation.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from lint_support import run_logged

TOP = Path(__file__).resolve().parents[2]
VENV = TOP / ".venv" / "importer"
REQUIREMENTS = TOP / ".ci" / "requirements-importer.txt"
STAMP = VENV / ".requirements.sha256"
# A run takes one to two minutes on a busy two-core machine; most of it is ansible-lint.
TIMEOUT = 900

# Warnings the importer gives for this collection that are no fault of it: why -> what they look like.
# A warning that none of them matches fails test_every_warning_is_a_known_kind.
KNOWN_WARNINGS = {
    "the importer runs flake8 on the filters' YAML documentation files as if they were Python":
        re.compile(r"^plugins/filter/[a-z0-9_]+\.yml:\d+:\d+: E999 "),
    "pycodestyle's W503 and W504 are opposites (no line break before, no line break after a binary operator),"
    " so any expression wrapped at an operator breaks one; the importer selects both, ansible-test's pep8 neither":
        re.compile(r"^plugins/[a-z0-9_/]+\.py:\d+:\d+: W50[34] "),
    "ansible-lint runs offline with only this collection installed, so the galaxy.yml dependency"
    " ansible.posix cannot be resolved":
        re.compile(r"^roles/[a-z0-9_/]+\.yml:\d+:\d+: syntax-check\[unknown-module\]: "
                   r"couldn't resolve module/action 'ansible\.posix\.[a-z0-9_]+'"),
}


def importer_config(work):
    """What the importer may do here; every option is written out, none is left to its defaults."""
    config = configparser.ConfigParser()
    config["galaxy-importer"] = {
        "run_ansible_doc": "true",
        "run_ansible_lint": "true",
        "offline_ansible_lint": "true",
        "run_flake8": "true",
        # ansible-test needs a container image and a registry; .ci/sanity.sh runs it instead.
        "run_ansible_test": "false",
        "ansible_test_local_image": "false",
        "local_image_docker": "false",
        "infra_osd": "false",
        "check_changelog": "true",
        # Automation Hub wants one of its tags (here linux, networking).
        "check_required_tags": "true",
        # Certified content on Automation Hub must be 1.0.0 or later; galaxy.yml says 0.1.0 for now.
        "require_v1_or_greater": "false",
        "log_level_main": "INFO",
        "tmp_root_dir": str(work / "tmp"),
        "ansible_local_tmp": str(work / "ansible-tmp"),
    }
    (work / "tmp").mkdir()
    (work / "ansible-tmp").mkdir()
    path = work / "galaxy-importer.cfg"
    with open(path, "w", encoding="utf-8") as out:
        config.write(out)
    return path


def importer_environment(config):
    env = {key: value for key, value in os.environ.items() if not key.startswith("GALAXY_IMPORTER_")}
    env["GALAXY_IMPORTER_CONFIG"] = str(config)
    # ansible-doc, ansible-lint and flake8 are found on PATH: the importer's own, at the pinned versions.
    env["PATH"] = "%s:%s" % (VENV / "bin", env.get("PATH", "/usr/bin:/bin"))
    env["VIRTUAL_ENV"] = str(VENV)
    env.pop("PYTHONPATH", None)
    return env


def tree_for_import(copy):
    """The collection's files as git sees them. The importer refuses metadata without a repository address
    before it checks anything else; galaxy.yml names none while none is published, so the copy gets this
    checkout's own address (true, and local) and every other check of the importer still runs."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=TOP, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        if (TOP / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TOP / name, copy / name)
    galaxy = (copy / "galaxy.yml").read_text()
    if not re.search(r"(?m)^repository:", galaxy):
        (copy / "galaxy.yml").write_text(galaxy + "repository: %s\n" % TOP.as_uri())
    return copy


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Build the tarball and import it once; gives the exit code, the log and the result JSON."""
    python = VENV / "bin" / "python"
    if not python.is_file():
        pytest.fail("%s is missing: run lab/setup.sh, which creates it from %s"
                    % (VENV.relative_to(TOP), REQUIREMENTS.relative_to(TOP)))
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    have = STAMP.read_text().strip() if STAMP.is_file() else "none"
    if have != want:
        pytest.fail("%s was not installed from the current %s (stamp %s): run lab/setup.sh"
                    % (VENV.relative_to(TOP), REQUIREMENTS.relative_to(TOP), have))
    unshare = shutil.which("unshare")
    if not unshare:
        pytest.fail("unshare (util-linux) is missing: the import runs without network through it")

    work = tmp_path_factory.mktemp("galaxy-importer")
    source = tree_for_import(work / "source")
    proc = subprocess.run([str(VENV / "bin" / "ansible-galaxy"), "collection", "build", "--output-path", str(work)],
                          cwd=source, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarballs = list(work.glob("failover-keepalived-*.tar.gz"))
    assert len(tarballs) == 1, proc.stdout

    config = importer_config(work)
    cmd = [unshare, "--net", str(python), "-m", "galaxy_importer.main", tarballs[0].name]
    rc, log = run_logged(cmd, work / "importer.log", TIMEOUT, cwd=work, env=importer_environment(config))
    # The importer writes its result to importer_result.json in its working directory.
    result_file = work / "importer_result.json"
    result = json.loads(result_file.read_text()) if result_file.is_file() else None
    return {"rc": rc, "log": log, "result": result}


def log_lines(log, *levels):
    """The log's lines of these levels, without the level; a multi-line message counts by its first line."""
    prefixes = tuple(level + ": " for level in levels)
    return [line.split(": ", 1)[1] for line in log.splitlines() if line.startswith(prefixes)]


def test_import_ends_without_errors(imported):
    log = imported["log"]
    assert imported["rc"] == 0, "galaxy-importer failed (%s):\n%s" % (imported["rc"], log[-8000:])
    assert not log_lines(log, "ERROR", "CRITICAL"), log[-8000:]
    assert "Importer processing completed successfully" in log, log[-8000:]
    assert imported["result"] is not None, "no importer_result.json:\n" + log[-8000:]


def test_every_warning_is_a_known_kind(imported):
    unknown = [line for line in log_lines(imported["log"], "WARNING")
               if not any(pattern.search(line) for pattern in KNOWN_WARNINGS.values())]
    hint = "fix it, or add its kind and the reason to KNOWN_WARNINGS"
    assert not unknown, "galaxy-importer warns (%s):\n%s" % (hint, "\n".join(unknown))


def test_result_shows_the_collection_and_its_documentation(imported):
    result = imported["result"]
    assert result is not None, imported["log"][-8000:]
    galaxy = yaml.safe_load((TOP / "galaxy.yml").read_text())
    metadata = result["metadata"]
    assert (metadata["namespace"], metadata["name"], metadata["version"]) == (
        galaxy["namespace"], galaxy["name"], galaxy["version"])
    runtime = yaml.safe_load((TOP / "meta" / "runtime.yml").read_text())
    assert result["requires_ansible"] == runtime["requires_ansible"]

    contents = {}
    for item in result["contents"]:
        contents.setdefault(item["content_type"], set()).add(item["name"])
    modules = {path.stem for path in (TOP / "plugins" / "modules").glob("*.py")}
    filters = {path.stem for path in (TOP / "plugins" / "filter").glob("*.yml")}
    roles = {path.name for path in (TOP / "roles").iterdir() if path.is_dir()}
    playbooks = {path.name for path in (TOP / "playbooks").glob("*.yml")}
    assert modules and filters and roles and playbooks
    assert contents.get("module") == modules
    # The Python file that holds the filters is listed as well, under its own name and without documentation.
    filter_files = {path.stem for path in (TOP / "plugins" / "filter").glob("*.py")}
    assert contents.get("filter") == filters | filter_files
    assert contents.get("role") == roles
    assert contents.get("playbook") == playbooks

    # ansible-doc's documentation, as Galaxy shows it, for every module and filter.
    docs = {(item["content_type"], item["content_name"]): item for item in result["docs_blob"]["contents"]}
    for kind, names in (("module", modules), ("filter", filters)):
        for name in sorted(names):
            strings = docs[(kind, name)]["doc_strings"] or {}
            doc = strings.get("doc") or {}
            # ansible-doc names a module under "module", any other plugin under "name".
            assert doc.get("module" if kind == "module" else "name") == name, (kind, name, doc)
            assert doc.get("short_description") and doc.get("version_added"), (kind, name, doc)
            assert strings.get("examples") and strings.get("return"), (kind, name, sorted(strings))
    for item in result["contents"]:
        if item["content_type"] == "role":
            assert item["description"], "role %s: galaxy_info.description is empty" % item["name"]
            assert docs[("role", item["name"])]["readme_html"], "role %s: no README rendered" % item["name"]
    assert result["docs_blob"]["collection_readme"]["name"] == galaxy["readme"]
    assert result["docs_blob"]["collection_readme"]["html"]
