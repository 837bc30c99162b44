"""Documentation gates: antsibull-docs lints the plugin and role docs, and the HTML site builds cleanly.

The site is what `antsibull-docs sphinx-init` sets up (module, role and filter pages from the
collection's own documentation), plus the Markdown guides in docs/, read as they are by MyST.
It is built into a temporary directory with Sphinx warnings as errors, and never kept.
"""

from __future__ import annotations

import ast
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
COLLECTION = "failover.keepalived"

# Appended to the conf.py that sphinx-init writes (strict mode: nitpicky, and -W below).
SITE_CONF = r"""
# --- failover.keepalived ---
# The guides in docs/ are Markdown and stay the single source: MyST reads them as they are.
extensions.append("myst_parser")
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# GitHub's heading anchors, so links such as checks.md#remediation work on the site as well.
myst_heading_anchors = 3
# The build is offline, so there are no intersphinx inventories. References to Ansible's own
# documentation and to other collections (ansible.posix) would resolve through them: those
# labels are let through; an unresolved reference into this collection still fails the build.
intersphinx_mapping = {}
nitpick_ignore_regex = [("std:ref", r"(?!ansible_collections\.failover\.keepalived\.).*")]
"""

# Appended to the site's root index.rst: one entry per page in docs/.
GUIDES_TOCTREE = """

.. toctree::
   :maxdepth: 1
   :caption: Guides:
   :glob:

   docs/*
"""


def run(cmd, **kw):
    proc = subprocess.run(cmd, cwd=kw.pop("cwd", TOP), capture_output=True, text=True, check=False, **kw)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def docs_env(tmp_path_factory):
    """Environment in which Ansible finds this working tree as failover.keepalived, and nothing stale."""
    root = tmp_path_factory.mktemp("collections")
    link = root / "ansible_collections" / "failover" / "keepalived"
    link.parent.mkdir(parents=True)
    link.symlink_to(TOP, target_is_directory=True)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(root), PATH=path)


def test_collection_docs_lint(docs_env):
    # The linter copies the collection (the files git does not ignore) into its own
    # ansible_collections/ tree, so it is pointed at the working tree itself.
    rc, out = run(["antsibull-docs", "lint-collection-docs", "--plugin-docs", "."], env=docs_env, timeout=600)
    assert rc == 0, out[-5000:]


def _module_options(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["DOCUMENTATION"]:
            return list(yaml.safe_load(node.value.value).get("options") or {})
    raise AssertionError("%s has no DOCUMENTATION" % path)


def _title(page):
    found = re.search(r"<title>(.*?)</title>", page.read_text(), re.S)
    assert found, "%s has no title" % page
    return html.unescape(found.group(1))


def test_docs_site_builds_without_warnings(tmp_path, docs_env):
    site = tmp_path / "site"
    site.mkdir(mode=0o755)  # antsibull-docs writes only into a directory no one else may write to
    rc, out = run(["antsibull-docs", "sphinx-init", "--use-current", "--fail-on-error",
                   "--project", COLLECTION, "--title", COLLECTION,
                   "--copyright", "contributors to the failover.keepalived collection",
                   "--dest-dir", str(site), COLLECTION], env=docs_env, timeout=300)
    assert rc == 0, out
    with (site / "conf.py").open("a") as conf:
        conf.write(SITE_CONF)
    with (site / "rst" / "index.rst").open("a") as index:
        index.write(GUIDES_TOCTREE)
    shutil.copytree(TOP / "docs", site / "rst" / "docs", ignore=shutil.ignore_patterns("docsite"))

    # The steps of the build.sh that sphinx-init writes, spelled out.
    (site / "rst").chmod(0o755)  # build.sh: chmod og-w rst
    rc, out = run(["antsibull-docs", "--config-file", "antsibull-docs.cfg", "collection", "--use-current",
                   "--fail-on-error", "--cleanup", "everything", "--dest-dir", "rst", COLLECTION],
                  cwd=site, env=docs_env, timeout=300)
    assert rc == 0, out
    rc, out = run(["sphinx-build", "-b", "html", "-c", ".", "-n", "-W", "--keep-going", "-q", "rst", "build/html"],
                  cwd=site, env=docs_env, timeout=300)
    assert rc == 0, out[-8000:]

    built = site / "build" / "html"
    pages = built / "collections" / "failover" / "keepalived"
    assert (pages / "keepalived_status_module.html").is_file() and (pages / "keepalived_role.html").is_file()
    assert (pages / "keepalived_failover_plan_filter.html").is_file()
    for module in sorted(TOP.glob("plugins/modules/keepalived_*.py")):
        page = pages / (module.stem + "_module.html")
        assert _title(page).startswith("%s.%s module" % (COLLECTION, module.stem)), page
        text = page.read_text()
        missing = [o for o in _module_options(module) if 'id="parameter-%s"' % o not in text]
        assert not missing, "%s lacks options %s" % (page.name, missing)
    for spec in sorted(TOP.glob("roles/*/meta/argument_specs.yml")):
        role = spec.parents[1].name
        page = pages / (role + "_role.html")
        assert _title(page).startswith("%s.%s role" % (COLLECTION, role)), page
        text = page.read_text()
        options = yaml.safe_load(spec.read_text())["argument_specs"]["main"]["options"]
        missing = [o for o in options if 'id="parameter-main--%s"' % o not in text]
        assert not missing, "%s lacks options %s" % (page.name, missing)
    for sidecar in sorted(TOP.glob("plugins/filter/*.yml")):
        page = pages / (sidecar.stem + "_filter.html")
        assert _title(page).startswith("%s.%s filter" % (COLLECTION, sidecar.stem)), page
        assert 'id="parameter-_input"' in page.read_text(), page

    root_index = (built / "index.html").read_text()
    guides = sorted(TOP.glob("docs/*.md"))
    assert TOP / "docs" / "day-two.md" in guides
    for source in guides:
        markdown = source.read_text()
        heading = next(line[2:] for line in markdown.splitlines() if line.startswith("# "))
        page = built / "docs" / (source.stem + ".html")
        assert _title(page).startswith(heading.replace("`", "")), page
        assert 'href="docs/%s.html"' % source.stem in root_index, "%s is not in the site's index" % source.name
        # Links to another guide's section become links to its page and anchor; pictures come along.
        text = page.read_text()
        for target, anchor in re.findall(r"\]\(([\w-]+)\.md#([\w-]+)\)", markdown):
            assert 'href="%s.html#%s"' % (target, anchor) in text, (source.name, target, anchor)
            assert 'id="%s"' % anchor in (built / "docs" / (target + ".html")).read_text(), (target, anchor)
        for picture in re.findall(r"!\[[^]]*\]\(([\w.-]+)\)", markdown):
            assert (built / "_images" / picture).is_file(), (source.name, picture)
