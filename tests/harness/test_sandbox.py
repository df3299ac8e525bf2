"""The bubblewrap sandbox, really run: results, limits, and a battery of hostile programs.

Every hostile program tries its attack and exits 0 only if the attack worked, so "contained"
means: reported as not passed, the host shows no trace (no file, no connection, no process),
and this test process is still alive to check.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.sandbox import Limits, Sandbox, SandboxError

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")

MARKER = "313.37"  # a sleep duration no other process on the host uses


@pytest.fixture(scope="module", params=[True, False], ids=["reuse", "fresh"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with Sandbox(Limits(timeout=3.0, memory_mb=256), reuse=request.param) as sb:
        yield sb


def live_processes(uids: range) -> list[str]:
    """Host processes (not zombies) owned by ``uids`` or carrying MARKER on their command line."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        if state != b"Z" and (uid in uids or MARKER in cmd):
            found.append(f"{pid} uid={uid} {cmd}")
    return found


def test_stdin_stdout_and_exit_status(sandbox: Sandbox) -> None:
    ok = sandbox.run("import sys\nprint(sys.stdin.read().upper())", stdin="hello")
    assert (ok.status, ok.exit_code, ok.stdout) == ("exited", 0, "HELLO\n")
    bad = sandbox.run("import sys\nprint('partial')\nsys.exit(3)")
    assert (bad.status, bad.exit_code, bad.stdout) == ("exited", 3, "partial\n")
    err = sandbox.run("raise ValueError('boom')")
    assert err.exit_code == 1 and "ValueError: boom" in err.stderr


def test_runs_as_nobody_with_a_bare_filesystem(sandbox: Sandbox) -> None:
    r = sandbox.run(
        "import os\nprint(os.getuid(), os.getgid(), sorted(os.listdir('/')), os.getcwd())"
    )
    assert r.ok, r.stderr
    assert r.stdout.split(" ", 2)[:2] == ["65534", "65534"]
    assert "'home'" not in r.stdout and "'root'" not in r.stdout and "'etc'" not in r.stdout
    assert r.stdout.strip().rsplit(" ", 1)[1].startswith("/tmp")


def test_limits_end_programs_with_the_right_status(sandbox: Sandbox) -> None:
    with Sandbox(Limits(timeout=10.0, cpu_seconds=1), reuse=sandbox.reuse, workers=1) as busy:
        cpu = busy.run("while True: pass")
    assert (cpu.status, cpu.signal) == ("killed", 24)  # SIGXCPU long before the wall timeout
    assert cpu.duration < 8
    big_file = sandbox.run("open('/tmp/f', 'wb').write(b'x' * (40 << 20))")
    assert big_file.exit_code == 1 and "File too large" in big_file.stderr
    flood = sandbox.run("print('y' * (40 << 20))")
    assert flood.exit_code == 1 and len(flood.stdout) <= sandbox.tail_bytes


def test_tails_keep_the_end_of_long_output(sandbox: Sandbox) -> None:
    r = sandbox.run("for i in range(5000): print(i)")
    assert r.ok and r.stdout.endswith("4999\n") and len(r.stdout) <= sandbox.tail_bytes
    assert not r.stdout.startswith("0\n")


def test_missing_bubblewrap_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match=r"apt-get install bubblewrap") as e:
        Sandbox()
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_unsandboxed_mode_still_limits_and_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_SECRET", "x")
    sb = Sandbox(Limits(timeout=2.0), isolate=False)
    r = sb.run("import os\nprint(os.getuid(), sorted(os.environ))")
    assert r.ok and "SECRET" not in r.stdout
    if os.geteuid() == 0:
        assert int(r.stdout.split()[0]) in sb.uids()
    assert sb.run("while True: pass").status == "timeout"


def _tcp_server() -> tuple[socket.socket, list[object]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(8)
    hits: list[object] = []

    def accept() -> None:
        try:
            hits.append(srv.accept())
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    return srv, hits


def hostile_programs(port: int, outside: Path) -> dict[str, str]:
    me = os.getpid()
    return {
        "socket": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n",
        "write_outside_tmp": (
            "import os\nhits = 0\n"
            f"for p in [{str(outside / 'escaped')!r}, '/usr/escaped', '/escaped', '/sandbox/x',"
            " '/dev/x']:\n"
            "    try:\n        open(p, 'w').write('x')\n        hits += 1\n"
            "    except OSError:\n        pass\n"
            "raise SystemExit(0 if hits else 1)\n"
        ),
        "fork_bomb": (
            "import os\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        pass\n"
        ),
        # bytes(n) maps zeroed pages without touching them: the address-space limit, not the
        # machine's speed, decides when this fails.
        "allocate": "chunks = []\nwhile True:\n    chunks.append(bytes(1 << 24))\n",
        "loop": "while True:\n    pass\n",
        "read_environment": (
            "import os, glob\nseen = str(os.environ)\n"
            "for p in glob.glob('/proc/*/environ'):\n    try:\n"
            "        seen += open(p, 'rb').read().decode(errors='replace')\n"
            "    except OSError:\n        pass\n"
            "raise SystemExit(0 if 'hunter2-sandbox-secret' in seen else 1)\n"
        ),
        "kill_parent": (
            "import os, signal\nfor pid in (os.getppid(), 1, -1, " + str(me) + "):\n    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
            "raise SystemExit(1)\n"
        ),
        "background": (
            "import os, subprocess, time\n"
            f"subprocess.Popen(['sleep', '{MARKER}'], start_new_session=True)\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        os.execvp('sleep', ['sleep', '{MARKER}'])\n    os._exit(0)\n"
            "time.sleep(0.2)\nraise SystemExit(1)\n"
        ),
    }


@pytest.mark.slow
def test_hostile_programs_are_contained(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_TEST_SECRET", "hunter2-sandbox-secret")
    srv, hits = _tcp_server()
    programs = hostile_programs(srv.getsockname()[1], tmp_path)
    # The CPU hogs run after the others: a fork bomb's spinning processes would otherwise starve
    # its neighbours into timeouts (the sandbox bounds each run, not the machine's fairness).
    order = sorted(programs, key=lambda name: name in ("fork_bomb", "loop"))
    try:
        ran = sandbox.run_many([programs[name] for name in order[:-2]])
        ran += sandbox.run_many([programs[name] for name in order[-2:]])
    finally:
        srv.close()
    results = dict(zip(order, ran, strict=True))
    for name, r in results.items():
        assert not r.ok, f"{name} escaped: {r}"
    for name in ("write_outside_tmp", "read_environment", "background"):
        # Ran to its last line and found the attack had failed (not a crash of the test itself).
        assert results[name].exit_code == 1, f"{name}: {results[name]}"
    # Its parent is the sandbox's pid 1, immune to it, and its seccomp guard refuses the rest.
    assert results["kill_parent"].exit_code == 1, results["kill_parent"]
    assert results["loop"].status == "timeout", results["loop"]
    assert results["fork_bomb"].status in ("timeout", "killed")
    assert results["allocate"].exit_code == 1 and "MemoryError" in results["allocate"].stderr
    assert "unreachable" in results["socket"].stderr or "refused" in results["socket"].stderr
    assert hits == [], "the sandbox reached a host socket"
    assert not (tmp_path / "escaped").exists() and not Path("/usr/escaped").exists()
    assert not Path("/escaped").exists()
    assert live_processes(range(0)) == []  # nothing carrying MARKER survived its run
    sandbox.close()
    assert live_processes(sandbox.uids()) == []  # and nothing at all once the sandbox closes
    assert os.environ["HARNESS_TEST_SECRET"] == "hunter2-sandbox-secret"  # still us, still alive


def test_programs_sharing_a_sandbox_see_nothing_of_each_other() -> None:
    with Sandbox(Limits(timeout=3.0), reuse=True, workers=1) as sb:
        first = sb.run(
            "import os, subprocess\nopen('/tmp/left-behind', 'w').write('x')\n"
            f"subprocess.Popen(['sleep', '{MARKER}'], start_new_session=True)\n"
            "print(os.getcwd())"
        )
        second = sb.run(
            "import os\nprint(os.path.exists('/tmp/left-behind'), "
            f"{first.stdout.strip()!r} in os.listdir('/tmp') or os.path.exists("
            f"{first.stdout.strip()!r}))\n"
            "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
        )
    assert first.ok and second.ok, (first, second)
    lines = second.stdout.splitlines()
    assert lines[0] == "False False"
    assert len(eval(lines[1])) == 2  # the server (pid 1) and this program: no sleeper


def test_reused_sandboxes_outlive_the_threads_that_ran_them() -> None:
    # bwrap --die-with-parent follows the thread that started it; run_many's threads end.
    with Sandbox(Limits(timeout=3.0), reuse=True, workers=2) as sb:
        first = sb.run_many(["import os\nprint(os.getpid())"] * 4)
        second = sb.run_many(["print('again')"] * 4)
    assert [r.status for r in first + second] == ["exited"] * 8, second
