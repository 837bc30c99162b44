"""Write each role's variable reference into its README from meta/argument_specs.yml.

The table goes between <!-- BEGIN_ANSIBLE_DOCS --> and <!-- END_ANSIBLE_DOCS -->;
everything else in the README is prose kept as written.

    python3 tools/role_docs.py           rewrite the READMEs
    python3 tools/role_docs.py --check   exit 1 if a README is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN_ANSIBLE_DOCS -->"
END = "<!-- END_ANSIBLE_DOCS -->"
MARKUP = re.compile(r"\b([CVOI])\(([^)]*)\)")


def plain(text):
    """Turn Ansible doc markup (C(), V(), O(), I()) into Markdown."""
    def repl(match):
        kind, value = match.groups()
        if kind == "O":
            value = value.split(":")[-1]
        return "`%s`" % value
    return MARKUP.sub(repl, str(text)).replace("|", "\\|").replace("\n", " ")


def describe(desc):
    if isinstance(desc, list):
        return " ".join(plain(d) for d in desc)
    return plain(desc or "")


def default_of(spec):
    if "default" not in spec:
        return "required" if spec.get("required") else ""
    value = spec["default"]
    return "`%s`" % (yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip())


def type_of(spec):
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        kind = "list of %s" % spec["elements"]
    if spec.get("choices"):
        kind += " (%s)" % ", ".join(str(c) for c in spec["choices"])
    return kind


def rows(options, prefix=""):
    for name, spec in options.items():
        yield "| `%s%s` | %s | %s | %s |" % (prefix, name, type_of(spec), default_of(spec), describe(spec.get("description")))
        if spec.get("options"):
            sub = prefix + name + ("[]." if spec.get("type") == "list" else ".")
            yield from rows(spec["options"], sub)


def table(spec_file):
    data = yaml.safe_load(spec_file.read_text())
    out = []
    for entry, spec in data["argument_specs"].items():
        out.append("### Entry point `%s`\n" % entry)
        out.append(describe(spec.get("short_description")) + "\n")
        out.append("| variable | type | default | description |")
        out.append("|---|---|---|---|")
        out.extend(rows(spec.get("options") or {}))
        out.append("")
    return "\n".join(out)


def render(readme, spec_file):
    text = readme.read_text() if readme.exists() else "# %s\n\n## Variables\n\n%s\n%s\n" % (
        readme.parent.name, BEGIN, END)
    if BEGIN not in text or END not in text:
        raise SystemExit("%s lacks the %s / %s markers" % (readme, BEGIN, END))
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return "%s%s\n%s\n%s%s" % (head, BEGIN, table(spec_file), END, tail)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report READMEs that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for spec_file in sorted(TOP.glob("roles/*/meta/argument_specs.yml")):
        readme = spec_file.parents[1] / "README.md"
        new = render(readme, spec_file)
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
