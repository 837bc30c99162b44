# Copyright: Contributors to the failover.keepalived collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line contract: exit codes, one-line reasons, option naming, all/any, interpreters."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest
import yaml

from hc_support import BOOT, LIB_DIR, PACKAGE, interpreters, program_argv, program_module, render_launcher

cli = program_module("cli")
combine = program_module("checks.combine")

CHECK_NAMES = ["file", "process", "systemd", "http", "tcp", "mysql", "mysql-replication", "haproxy",
               "apiserver", "all", "any"]


def package_files():
    """The package's source files, relative to the lib dir: what the role installs."""
    return sorted(str(p.relative_to(LIB_DIR)) for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_installed_layout_runs_from_byte_code(tmp_path):
    """The role's layout: the package compiled in a lib dir, started by the rendered sh launcher."""
    lib = tmp_path / "lib"
    shutil.copytree(PACKAGE, lib / "keepalived_check", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(lib)], check=True)
    launcher = tmp_path / "keepalived-check"
    launcher.write_text(render_launcher(sys.executable, str(lib)))
    launcher.chmod(0o755)
    down = tmp_path / "down"
    ok = subprocess.run([str(launcher), "file", "--path", str(down)], capture_output=True, text=True, check=False)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    down.write_text("maintenance")
    bad = subprocess.run([str(launcher), "file", "--path", str(down)], capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("keepalived-check file:"), bad.stderr
    usage = subprocess.run([str(launcher), "--help"], capture_output=True, text=True, check=False)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: keepalived-check"), usage.stdout
    for name in package_files():
        source = lib / name
        assert list((source.parent / "__pycache__").glob(source.stem + ".*.pyc")), name
        assert not source.read_text().startswith("#!") and not source.stat().st_mode & stat.S_IXUSR, name


def test_the_role_installs_every_file_of_the_package():
    # The role installs what its globs find (vars/main.yml); a file they miss would be left out on the hosts.
    role_vars = yaml.safe_load((LIB_DIR.parent / "vars" / "main.yml").read_text())
    globs = role_vars["__healthcheck_program_globs"]
    assert package_files() == sorted(str(p.relative_to(LIB_DIR)) for pattern in globs for p in LIB_DIR.glob(pattern))
    assert sorted(p.name for p in LIB_DIR.iterdir() if p.name != "__pycache__") == ["keepalived_check"]


def test_runs_as_a_module(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(LIB_DIR)}
    ok = subprocess.run([sys.executable, "-m", "keepalived_check", "file", "--path", str(tmp_path / "absent")],
                        capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    usage = subprocess.run([sys.executable, "-m", "keepalived_check", "--help"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, check=False)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: keepalived-check"), usage.stdout + usage.stderr


def test_import_has_no_side_effects(tmp_path):
    # Importing any module of the package must not parse sys.argv, print, or create state directories.
    modules = [name.removesuffix(".py").replace("/", ".").removesuffix(".__init__") for name in package_files()]
    code = (f"import sys; sys.argv = ['x', 'bogus']; sys.path.insert(0, {str(LIB_DIR)!r}); import importlib; "
            f"[importlib.import_module(m) for m in {modules!r}]; print('imported')")
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "imported\n"
    assert proc.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_help_lists_every_check(run_check):
    result = run_check("--help")
    assert result.rc == 0
    for name in CHECK_NAMES:
        assert f"    {name} " in result.out


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_each_check_has_help(run_check, name):
    assert run_check(name, "--help").rc == 0


@pytest.mark.parametrize("argv", [
    [],
    ["nosuchcheck"],
    ["file", "/etc/keepalived/down"],               # positional arguments are not accepted
    ["process"],                                    # a selector is required
    ["tcp", "--port", "0"],
    ["tcp", "--port", "70000"],
    ["tcp"],
    ["http", "--url", "ftp://127.0.0.1/"],
    ["http", "--url", "http://127.0.0.1/", "--expect-status", "abc"],
    ["http", "--url", "http://127.0.0.1/", "--method", "POST"],
    ["--timeout", "0", "file"],
    ["--timeout", "-1", "file"],
    ["systemd", "--unit", "bad unit"],
    ["haproxy", "--frontend", "fe"],                # needs --stats-socket
    ["apiserver", "--host", "192.0.2.1"],           # there is deliberately no way to probe another host
    ["all"],
    ["all", "--check", ""],
    ["all", "--check", "nosuchcheck --x 1"],
    ["all", "--check", "process --bogus"],
    ["all", "--check", "all --check file"],         # no nesting
    ["any", "--check", "'unbalanced"],
    ["--remediate-command", "true", "--remediate-settle", "5", "--timeout", "2", "file"],
    ["--remediate-command", "true", "--remediate-unit", "x.service", "file"],
    ["--remediate-unit", "-x", "--timeout", "9", "file"],
    ["--remediate-command", "'unbalanced", "file"],
    ["--remediate-command", "", "file"],
    ["--state-dir", "relative/dir", "file"],
    ["file", "--path", "relative/down"],            # paths are absolute (keepalived runs checks in /)
    ["process", "--min", "2", "--name", "x"],       # no abbreviated option names
    ["process", "--name", "x", "--min-count", "nan"],
    ["all", "--check", "file --help"],              # help inside --check is no check
    ["all", "--check", "process"],                  # the sub-check's own rules apply
])
def test_usage_errors_exit_2(run_check, argv):
    result = run_check(*argv)
    assert result.rc == 2, result
    assert "error" in result.err


def test_global_options_go_before_the_check(run_check, tmp_path):
    assert run_check("--timeout", "1", "--verbose", "file", "--path", tmp_path / "absent").rc == 0
    assert run_check("file", "--path", tmp_path / "absent", "--timeout", "1").rc == 2


def test_quiet_on_success_and_one_line_on_failure(tmp_path, run_cli):
    down = tmp_path / "down"
    ok = run_cli("file", "--path", down)
    assert (ok.rc, ok.out, ok.err) == (0, "", "")
    down.touch()
    bad = run_cli("file", "--path", down)
    assert bad.rc == 1
    assert bad.out == ""
    assert bad.err == f"keepalived-check file: maintenance file {down} exists\n"


def test_verbose_reports_on_stdout_only(tmp_path, run_cli):
    result = run_cli("--verbose", "file", "--path", tmp_path / "absent")
    assert result.rc == 0
    assert result.out == "keepalived-check: file: healthy\n"
    assert result.err == ""


def test_file_check_default_path_is_the_maintenance_switch():
    opts = cli.parse_command_line(["file"])
    assert opts.path == "/etc/keepalived/down"


def test_file_check_counts_a_dangling_symlink_as_present(tmp_path, run_check):
    link = tmp_path / "down"
    link.symlink_to(tmp_path / "nowhere")
    assert run_check("file", "--path", link).rc == 1


def test_file_check_unreadable_directory_is_unhealthy_when_not_root(tmp_path, run_cli):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    code = (f"import os; os.setgid(65534); os.setuid(65534); "
            f"os.execv('/usr/bin/python3', {program_argv('/usr/bin/python3')!r} + ['file', '--path', "
            f"{str(locked / 'down')!r}])")
    tmp_path.chmod(0o755)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "cannot check maintenance file" in proc.stderr and "permission denied" in proc.stderr


# --- option naming contract: the role turns a dict into --long-name options --------------------


def args_from_dict(args):
    """What the role does with `args:`: key -> --key-with-dashes, lists repeat, true -> flag."""
    argv = []
    for key, value in args.items():
        option = "--" + key.replace("_", "-")
        if value is True:
            argv.append(option)
        elif value is False or value is None:
            continue
        elif isinstance(value, list):
            for item in value:
                argv += [option, str(item)]
        else:
            argv += [option, str(value)]
    return argv


@pytest.mark.parametrize("check, args", [
    ("mysql-replication", {"defaults_file": "/etc/keepalived/my.cnf", "max_lag": 30}),
    ("haproxy", {"stats_socket": "/run/haproxy/admin.sock", "frontend": ["a", "b"], "backend": ["c"]}),
    ("http", {"url": "https://127.0.0.1/", "insecure": True, "expect_status": [200, 204], "host_header": "x"}),
    ("process", {"name": "haproxy", "min_count": 2}),
    ("apiserver", {"port": 6443, "path": "/livez", "ca_file": "/etc/kubernetes/pki/ca.crt"}),
    ("tcp", {"host": "::1", "port": 5432}),
    ("any", {"check": ["file --path /x", "tcp:port=1"]}),
])
def test_inventory_dict_maps_onto_options(check, args):
    opts = cli.parse_command_line([check] + args_from_dict(args))
    for key, value in args.items():
        got = getattr(opts, key)
        if isinstance(value, list):
            assert [str(v) for v in got] == [str(v) for v in value]
        elif value is True:
            assert got is True
        else:
            assert str(got) == str(value) or float(got) == float(value)


# --- all / any ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, argv", [
    ("file --path /etc/keepalived/down", ["file", "--path", "/etc/keepalived/down"]),
    ("  process --name haproxy  ", ["process", "--name", "haproxy"]),
    ("file", ["file"]),
    ("file:path=/etc/keepalived/down", ["file", "--path", "/etc/keepalived/down"]),
    ("process:name=haproxy,min_count=2", ["process", "--name", "haproxy", "--min-count", "2"]),
    ("http:url=http://127.0.0.1:8080/a?b=1,expect-status=200,expect-status=204,insecure",
     ["http", "--url", "http://127.0.0.1:8080/a?b=1", "--expect-status", "200", "--expect-status", "204", "--insecure"]),
    ("tcp:host=::1,port=80", ["tcp", "--host", "::1", "--port", "80"]),
    ("systemd:unit=-.mount", ["systemd", "--unit=-.mount"]),
    ("http --url 'http://127.0.0.1/a b'", ["http", "--url", "http://127.0.0.1/a b"]),
    ("file:path=/tmp/a b", ["file:path=/tmp/a", "b"]),   # whitespace: not the compact form
])
def test_split_check_spec(spec, argv):
    assert combine.split_check_spec(spec) == argv


def test_all_passes_when_every_check_passes(tmp_path, run_check, processes):
    processes.named("hc-all-ok")
    result = run_check("all", "--check", f"file --path {tmp_path / 'absent'}", "--check", "process:name=hc-all-ok")
    assert result.rc == 0, result


def test_all_fails_on_the_first_failing_check(tmp_path, run_check):
    down = tmp_path / "down"
    down.touch()
    result = run_check("all", "--check", f"file --path {tmp_path / 'absent'}", "--check", f"file:path={down}",
                       "--check", "process --name hc-not-reached")
    assert result.rc == 1
    assert result.reason == f"keepalived-check all: file: maintenance file {down} exists"


def test_any_passes_when_one_check_passes(tmp_path, run_check):
    down = tmp_path / "down"
    down.touch()
    result = run_check("any", "--check", f"file --path {down}", "--check", f"file --path {tmp_path / 'absent'}")
    assert result.rc == 0, result


def test_any_fails_with_every_reason_on_one_line(tmp_path, run_check):
    down = tmp_path / "down"
    down.touch()
    result = run_check("any", "--check", f"file --path {down}", "--check", "process --name hc-no-such-proc")
    assert result.rc == 1
    assert result.err.count("\n") == 1
    assert result.reason == (f"keepalived-check any: no check passed: file: maintenance file {down} exists; "
                             "process: no process with name hc-no-such-proc")


def test_all_as_keepalived_passes_it(tmp_path, run_cli):
    # argv exactly as keepalived 2.2.7 and 2.3.3 hand it over for
    #   script "/usr/local/bin/keepalived-check all --check 'file --path /x' --check tcp:port=N"
    # (single quotes inside the double-quoted script line group words; see docs/checks.md).
    down = tmp_path / "down"
    result = run_cli("all", "--check", f"file --path {down}", "--check", "file:path=" + str(tmp_path / "other"))
    assert result.rc == 0
    down.touch()
    result = run_cli("all", "--check", f"file --path {down}", "--check", "file:path=" + str(tmp_path / "other"))
    assert result.rc == 1


# --- interpreters ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.11", "3.13"])
def test_runs_on_python(version, tmp_path, http_server):
    python = interpreters().get(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter on this host")
    down = tmp_path / "down"
    from hc_support import run_program
    assert run_program("file", "--path", down, python=python).rc == 0
    assert run_program("http", "--url", http_server.url("/ok"), python=python).rc == 0
    bad = run_program("http", "--url", http_server.url("/fail"), python=python)
    assert (bad.rc, bad.err) == (1, f"keepalived-check http: GET {http_server.url('/fail')} returned 503, expected 200\n")
    assert run_program("process", "--name", "hc-absent", python=python).rc == 1
    assert run_program("--help", python=python).rc == 0


@pytest.mark.parametrize("argv, loaded", [
    (["file", "--path", "/nonexistent/down"], ["checks", "checks.file", "cli", "core"]),
    (["all", "--check", "file --path /nonexistent/down", "--check", "file:path=/nonexistent/other"],
     ["checks", "checks.combine", "checks.file", "cli", "core"]),
])
def test_startup_imports_stay_small(argv, loaded):
    # keepalived may run the program every second: a check imports its own module only, and the file
    # check does not pull in ssl, http, json or subprocess.
    heavy = ("ssl", "http.client", "json", "subprocess", "socket")
    code = (BOOT.replace("sys.exit(main())", f"rc = main({argv!r}); ") +
            f"print(rc, sorted(n for n in {heavy!r} if n in sys.modules), "
            "sorted(n.partition('.')[2] for n in sys.modules if n.startswith('keepalived_check.')))")
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == f"0 [] {loaded!r}", proc.stdout + proc.stderr
