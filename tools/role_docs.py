"""Write each role's variable reference into its README from meta/argument_specs.yml, with aar-doc.

aar-doc renders tools/role_docs.md.j2 between <!-- BEGIN_ANSIBLE_DOCS --> and <!-- END_ANSIBLE_DOCS -->;
everything else in the README is prose kept as written. aar-doc itself only writes, so this renders into
a temporary copy of each README and compares: a README is rewritten only when its section changed, and
--check reports instead of writing.

    python3 tools/role_docs.py           rewrite the READMEs that are out of date
    python3 tools/role_docs.py --check   exit 1 if a README is out of date
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
TEMPLATE = TOP / "tools" / "role_docs.md.j2"
SKELETON = "# %s\n\n## Variables\n\n<!-- BEGIN_ANSIBLE_DOCS -->\n<!-- END_ANSIBLE_DOCS -->\n"


def rendered(role: Path) -> str:
    """The role's README as aar-doc leaves it, computed on a copy."""
    readme = role / "README.md"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "README.md"
        copy.write_text(readme.read_text() if readme.exists() else SKELETON % role.name)
        # Run in the empty temporary directory, so that no stray .aar_doc.yml changes the options.
        cmd = [sys.executable, "-m", "aar_doc.cli", "--output-file", str(copy), "--output-template", str(TEMPLATE),
               str(role), "markdown"]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise SystemExit("aar-doc failed on %s (rc %d; pinned in .ci/requirements.txt): %s" % (
                readme.relative_to(TOP), proc.returncode, (proc.stdout + proc.stderr).strip()))
        return copy.read_text()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report READMEs that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for spec_file in sorted(TOP.glob("roles/*/meta/argument_specs.yml")):
        role = spec_file.parents[1]
        readme = role / "README.md"
        new = rendered(role)
        if not readme.exists() or readme.read_text() != new:
            stale.append(str(readme.relative_to(TOP)))
            if not args.check:
                readme.write_text(new)
    if args.check and stale:
        print("out of date (run python3 tools/role_docs.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
