"""The repository stands on its own, and its wheel is one package, `wiam`.

A clone of HEAD in an empty temporary folder (no `../shared`, nothing of this checkout beside it)
builds the wheel, offline (`pip wheel --no-build-isolation`, so setuptools and wheel come from
the test extra). The wheel goes into a fresh virtualenv whose only other paths are this
interpreter's site-packages, for the dependencies. From there: the installed wheel is what
`import wiam` finds, its console script compiles and reports from another folder, and in the
clone the README's set-up commands run (the test command with `--collect-only` and the tests of
the language reference, since the whole suite runs once already). What is committed is what is
checked: uncommitted changes are not in the clone.
"""

import json
import os
import re
import site
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALL = "pip install -e . && "
TEST = "pip install -e '.[test]' && "


def _run(args, cwd: Path, env: dict | None = None, shell: bool = False) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, shell=shell, capture_output=True, text=True,
                          executable="/bin/bash" if shell else None)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@dataclass(frozen=True)
class Installed:
    clone: Path  # the repository at HEAD
    wheel: Path
    python: Path  # the fresh virtualenv's interpreter
    site_packages: Path
    env: dict  # for commands: the virtualenv first on PATH, a cache of its own
    elsewhere: Path  # a folder outside the clone


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: nothing to clone")
    base = tmp_path_factory.mktemp("fresh")
    clone = base / "wiam"
    _run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(ROOT), str(clone)], base)
    _run(["git", "checkout", "--quiet", head.stdout.strip()], clone)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--disable-pip-version-check", "-w", str(base / "dist"), str(clone)], base)
    (wheel,) = (base / "dist").glob("wiam-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base)
    python = venv / "bin" / "python"
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              base).stdout.strip())
    # Dependencies from this interpreter; a .pth line adds a path without running its .pth files,
    # so an editable install of this checkout stays out.
    deps = [*site.getsitepackages(), site.getusersitepackages()]
    (site_packages / "wiam-test-deps.pth").write_text("".join(f"{path}\n" for path in deps))
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          "--disable-pip-version-check", str(wheel)], base)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", WIAM_CACHE_DIR=str(base / "cache"))
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return Installed(clone, wheel, python, site_packages, env, elsewhere)


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        record = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        top_level = next(n for n in archive.namelist() if n.endswith(".dist-info/top_level.txt"))
        assert archive.read(top_level).decode().split() == ["wiam"]
        return [line.split(",")[0] for line in archive.read(record).decode().splitlines() if line]


def test_the_wheel_holds_one_package_wiam_with_every_tracked_file_of_its_folders(installed):
    names = _wheel_names(installed.wheel)
    assert {name.split("/")[0] for name in names} == {"wiam", installed.wheel.name.split("-py")[0] + ".dist-info"}
    package_dir = tomllib.loads((installed.clone / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    tracked = _run(["git", "ls-files", *package_dir.values()], installed.clone).stdout.split()

    def in_wheel(path: str) -> str:
        (package,) = [p for p, folder in package_dir.items() if path.startswith(folder + "/")]
        return package.replace(".", "/") + path[len(package_dir[package]):]

    shipped = {name for name in names if name.startswith("wiam/")}
    assert shipped == {in_wheel(path) for path in tracked}  # data included, nothing else
    for data in ("wiam/schemas/wiam.schema.json", "wiam/providers/catalogs/gcp_roles.json.gz",
                 "wiam/providers/catalogs/azure_roles.json.gz", "wiam/report/assets/report.html",
                 "wiam/report/assets/vendor/cytoscape.min.js"):
        assert data in shipped


def test_site_packages_gets_wiam_only(installed):
    entries = {p.name for p in installed.site_packages.iterdir()} - {"wiam-test-deps.pth", "__pycache__"}
    assert entries == {"wiam", installed.wheel.name.split("-py")[0] + ".dist-info"}
    assert not {"compiler", "providers", "schemas"} & entries


def test_import_finds_the_installed_wheel_from_another_folder(installed):
    found = _run([str(installed.python), "-c",
                  "import json, wiam, wiam.providers.aws, wiam.schemas, wiam.report;"
                  "print(json.dumps([m.__file__ for m in (wiam, wiam.providers.aws, wiam.schemas, wiam.report)]))"],
                 installed.elsewhere, installed.env)
    for path in json.loads(found.stdout):
        assert Path(path).is_relative_to(installed.site_packages), path


def test_the_installed_package_compiles_and_reports_from_another_folder(installed):
    example = installed.clone / "examples" / "multi-cloud"
    _run([str(installed.python), "-m", "wiam", "compile", str(example), "--out", "out"], installed.elsewhere,
         installed.env)
    module = json.loads((installed.elsewhere / "out" / "main.tf.json").read_text())
    kinds = set(module["resource"])
    assert {"aws_iam_role", "google_service_account", "azurerm_user_assigned_identity"} <= kinds
    # The console script, the report's bundled assets and the GCP and Azure catalogs (validation).
    _run(["wiam", "report", str(example), "--out", "report.html"], installed.elsewhere, installed.env)
    assert "cytoscape" in (installed.elsewhere / "report.html").read_text()


def _setup_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def test_readme_setup_commands_run_in_the_clone(installed):
    compile_all, run_tests = _setup_commands()
    # The installs are what the fixture did with the wheel; the rest runs as the README says.
    assert compile_all.startswith(INSTALL) and run_tests.startswith(TEST)
    _run(compile_all.removeprefix(INSTALL), installed.clone, installed.env, shell=True)
    examples = {p.name for p in (installed.clone / "examples").iterdir() if any(p.glob("*.wiam.*"))}
    assert {p.parent.name for p in (installed.clone / "out").glob("*/main.tf.json")} == examples
    # Every file or folder the tests open or list beside the clone is recorded (tests/outside_reads.py).
    log = installed.clone.parent / "outside-reads.log"
    env = {**installed.env, "PYTHONPATH": str(installed.clone / "tests"), "WIAM_OUTSIDE_LOG": str(log),
           "WIAM_BESIDE": str(installed.clone.parent),
           "WIAM_ALLOWED": os.pathsep.join(map(str, (installed.clone, installed.python.parent.parent,
                                                     installed.env["WIAM_CACHE_DIR"])))}
    tests = run_tests.removeprefix(TEST) + " -p no:cacheprovider -p outside_reads"
    collected = _run(f"{tests} --collect-only", installed.clone, env, shell=True)
    assert re.search(r"^(\d+) tests collected", collected.stdout, re.M), collected.stdout
    assert log.read_text() == ""
    ran = _run(f"{tests} tests/test_spec_contract.py tests/test_language_doc.py", installed.clone, env, shell=True)
    assert re.search(r"^\d+ passed", ran.stdout.splitlines()[-1]), ran.stdout
    assert log.read_text() == ""
