#!/usr/bin/env python3
"""
Developer entry point for the Odradek repository; needs nothing but python3.

    python3 dev.py broker   start one broker on localhost:9092 (embedded metadata)
    python3 dev.py test     install everything and run every test suite
    python dev.py trial ... trial, able to find tests inside the odradek namespace

Both create the virtual environment C{.venv} beside this file on first use (installing
Debian's C{python3-venv} first when it is missing and we are root), then work inside it.
C{test} runs every tox environment in turn and ends with one line that counts the tests
of all of them, C{N passed, N failed}; it exits non-zero if any environment failed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
PACKAGES = ("client", "broker", "admin")
TOX_ENVS = ("client", "broker", "admin", "lint", "typecheck", "docs", "integration")
# Debian packages the test suites drive, by the command each provides (installed
# with apt-get when the command is missing): kcat (librdkafka 2.0.2) is one of the
# integration tests' real clients, node and npm run kafkajs.
SYSTEM_PACKAGES: dict[str, str] = {"kcat": "kcat", "node": "nodejs", "npm": "npm"}
# The npm project of the kafkajs tests, installed from its lock file.
JS_CLIENTS = HERE / "integration" / "js"

TRIAL_SUMMARY = re.compile(r"^(PASSED|FAILED) \((?P<counts>[^)]*)\)\s*$")
PYTEST_SUMMARY = re.compile(r"^=+ (?P<counts>.*\d+ (passed|failed|error).*) in [\d.]+s")


def run(*argv: str | Path, env: dict[str, str] | None = None) -> None:
    """
    Run a command, echoing it first; stop the script if it fails.
    """
    print("+", " ".join(str(a) for a in argv), flush=True)
    result = subprocess.run([str(a) for a in argv], check=False, env=env)
    if result.returncode != 0:
        sys.exit(f"dev.py: command failed with exit code {result.returncode}")


def as_root_apt_install(packages: list[str]) -> None:
    """
    Install Debian packages with apt-get, or explain how to when we cannot.
    """
    if not packages:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        sys.exit(
            "dev.py: please install these Debian packages first: " + " ".join(packages)
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run("apt-get", "update", "-q", env=env)
    run("apt-get", "install", "-y", "-q", "--no-install-recommends", *packages, env=env)


def ensure_system_packages() -> None:
    """
    Install the Debian packages whose commands the tests need.
    """
    missing = [pkg for cmd, pkg in SYSTEM_PACKAGES.items() if shutil.which(cmd) is None]
    as_root_apt_install(missing)


def ensure_node_modules() -> None:
    """
    Install the integration tests' npm packages (kafkajs) with C{npm ci}, unless
    the installed set already matches C{package-lock.json}.
    """
    lock = JS_CLIENTS / "package-lock.json"
    stamp = JS_CLIENTS / "node_modules" / ".odradek-installed"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("dev.py: npm is needed for the kafkajs tests; install Debian's npm")
    print(f"+ (cd {JS_CLIENTS.relative_to(HERE)} && npm ci)", flush=True)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_CLIENTS, check=False
    )
    if result.returncode != 0:
        sys.exit(f"dev.py: npm ci failed with exit code {result.returncode}")
    stamp.write_text(digest)


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    """
    Create C{.venv} with pip in it, installing C{python3-venv} when Debian lacks it.
    """
    if venv_python().exists():
        return
    result = subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=False)
    if result.returncode != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        minor = f"{sys.version_info.major}.{sys.version_info.minor}"
        as_root_apt_install(["python3-venv", f"python{minor}-venv"])
        run(sys.executable, "-m", "venv", VENV)
    run(venv_python(), "-m", "pip", "install", "-q", "--upgrade", "pip")


def ensure_installed(requirements: list[str], stamp_name: str) -> None:
    """
    pip-install C{requirements} into C{.venv} unless the same set is already there.
    """
    digest = hashlib.sha256()
    for requirement in requirements:
        digest.update(requirement.encode())
        pyproject = HERE / requirement.removeprefix("-e ") / "pyproject.toml"
        if pyproject.exists():
            digest.update(pyproject.read_bytes())
    stamp = VENV / f".{stamp_name}-installed"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    args: list[str] = []
    for requirement in requirements:
        args.extend(requirement.split(" ", 1))
    run(venv_python(), "-m", "pip", "install", "-q", *args)
    stamp.write_text(digest.hexdigest())


def broker(argv: list[str]) -> int:
    """
    Start a single broker on localhost:9092 with the embedded metadata store.
    """
    ensure_venv()
    ensure_installed([f"-e {HERE / 'packages' / p}" for p in PACKAGES], "packages")
    plugin = HERE / "packages/broker/src/twisted/plugins/odradek_broker.py"
    if not plugin.exists():
        print(
            "dev.py: the single-node broker arrives with the single-node broker issue;"
            " this command will then run `twistd -n odradek`.",
            file=sys.stderr,
        )
        return 1
    config = HERE / "config" / "server.properties"
    twistd = VENV / "bin" / "twistd"
    command = [str(twistd), "-n", "--pidfile=", "odradek", "--config", str(config)]
    os.chdir(HERE)  # log.dirs=data/kafka-logs resolves against the repository
    os.execv(command[0], [*command, *argv])


def count(line: str, totals: dict[str, int]) -> None:
    """
    Add the test counts of a trial or pytest summary line to C{totals}.
    """
    if match := TRIAL_SUMMARY.match(line):
        fields = {
            key.strip(): int(value)
            for key, value in (
                item.split("=") for item in match["counts"].split(",") if "=" in item
            )
        }
        totals["passed"] += fields.get("successes", 0)
        totals["passed"] += fields.get("expectedFailures", 0)
        totals["failed"] += fields.get("failures", 0) + fields.get("errors", 0)
        totals["failed"] += fields.get("unexpectedSuccesses", 0)
        totals["skipped"] += fields.get("skips", 0)
    elif match := PYTEST_SUMMARY.match(line):
        for number, word in re.findall(r"(\d+) (\w+)", match["counts"]):
            if word == "passed" or word == "xfailed":
                totals["passed"] += int(number)
            elif word in ("failed", "error", "errors", "xpassed"):
                totals["failed"] += int(number)
            elif word == "skipped":
                totals["skipped"] += int(number)


def test(argv: list[str]) -> int:
    """
    Install everything and run every tox environment; print one summary line.
    """
    ensure_system_packages()
    ensure_node_modules()
    ensure_venv()
    ensure_installed(["tox>=4.11"], "tox")
    envs = argv or list(TOX_ENVS)
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failed_envs = []
    env = dict(os.environ, PYTHONUNBUFFERED="1", PY_COLORS="0")
    for name in envs:
        print(f"+ tox run -e {name}", flush=True)
        process = subprocess.Popen(
            [str(VENV / "bin" / "tox"), "run", "-e", name],
            cwd=HERE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            count(line, totals)
        if process.wait() != 0:
            failed_envs.append(name)
    print()
    if failed_envs:
        print("tox environments that failed:", ", ".join(failed_envs))
    summary = f"{totals['passed']} passed, {totals['failed']} failed"
    if totals["skipped"]:
        summary += f", {totals['skipped']} skipped"
    print(summary, flush=True)
    return 1 if failed_envs or totals["failed"] else 0


def trial(argv: list[str]) -> int:
    """
    Run trial, first expanding each package name into the test modules under it.

    Trial's package loader needs the top-level package to have a C{__file__}, which a
    PEP 420 namespace package (C{odradek}) does not; loading test modules by their full
    names works, so we find them ourselves. Run it with the Python of a tox environment.
    """
    import importlib
    import pkgutil

    from twisted.scripts.trial import run as run_trial

    names: list[str] = []
    options: list[str] = []
    for argument in argv:
        if argument.startswith("-"):
            options.append(argument)
            continue
        module = importlib.import_module(argument)
        if not hasattr(module, "__path__"):
            names.append(argument)
            continue
        names.extend(
            info.name
            for info in pkgutil.walk_packages(module.__path__, argument + ".")
            if info.name.rpartition(".")[2].startswith("test_")
        )
    sys.argv = ["trial", *options, *sorted(names)]
    run_trial()  # exits with trial's status
    return 0


COMMANDS = {"broker": broker, "test": test, "trial": trial}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
