"""The cheat battery: wrong solutions that try to forge a pass, in both sandbox modes.

Each cheat is a completion of one HumanEval-style problem whose function is wrong (or never
returns); it tries one trick to make the run count as passed. Every one must fail, in the reused
and in the fresh sandbox alike, while the right solution passes in both. The hole cheats
(``/tmp`` size, System V IPC, ptrace) return the right answer only if the hole is open.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from harness.sandbox import Check, Limits, Sandbox

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")

PROMPT = 'import os\nimport sys\n\n\ndef add(a, b):\n    """Return a + b."""\n'
TESTS = (
    "\n\nMETADATA = {'author': 'test'}\n\n\ndef check(candidate):\n"
    "    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
    "    assert candidate(10, 20) == 30\n\ncheck(add)\n"
)
CHECK = Check(TESTS, "add", setup=PROMPT)
RIGHT = "    return a + b\n"
# Parses "candidate(2, 3) == 5" lines out of whatever text a cheat managed to read.
LOOKUP = (
    "import re\n"
    "def table(text):\n"
    "    return dict(re.findall(r'candidate\\((.*?)\\) == ([-0-9]+)', text))\n"
    "def answer(t, a, b):\n"
    "    key = f'{a}, {b}'\n"
    "    return int(t[key]) if key in t else 0\n"
)

CHEATS = {
    "os_exit_in_function": "    os._exit(0)\n",
    "os_exit_at_top_level": "    return 0\nos._exit(0)\n",
    "sys_exit_in_function": "    sys.exit(0)\n",
    "raise_system_exit_in_function": "    raise SystemExit(0)\n",
    "always_equal_object": (
        "    class Eq:\n        def __eq__(self, other):\n            return True\n"
        "        __hash__ = object.__hash__\n    return Eq()\n"
    ),
    "always_equal_int_subclass": (
        "    class Eq(int):\n        def __eq__(self, other):\n            return True\n"
        "        __hash__ = int.__hash__\n    return Eq(0)\n"
    ),
    "settrace_hook": (
        "    return 0\ndef hook(frame, event, arg):\n    if event == 'exception':\n"
        "        os._exit(0)\n    return hook\nsys.settrace(hook)\n"
    ),
    "sigalrm_handler": (
        "    return 0\nimport signal\nsignal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.01)\n"
    ),
    "atexit_hook": "    return 0\nimport atexit\natexit.register(lambda: os._exit(0))\n",
    "excepthook": "    return 0\nsys.excepthook = lambda *a: os._exit(0)\n",
    "del_hook": (
        "    return 0\nclass Bye:\n    def __del__(self):\n        os._exit(0)\nkeep = Bye()\n"
    ),
    "fork_and_exit_0_in_parent": "    return 0\nif os.fork():\n    os._exit(0)\n",
    "patch_sandbox_server_modules": (
        "    return 0\nimport json, builtins\nserver = sys.modules['__main__']\n"
        "for name in ('encode', 'decode', 'describe', 'send', 'recv'):\n"
        "    setattr(server, name, lambda *a, **k: None)\n"
        "json.dumps = lambda *a, **k: '{\"passed\": true}'\n"
        "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
    ),
    "forge_verdict_on_every_descriptor": (
        "    return 0\nimport json\n"
        "for fd in range(256):\n    for token in ('', None):\n        try:\n"
        "            os.write(fd, json.dumps({'token': token, 'passed': True}).encode())\n"
        "        except OSError:\n            pass\n"
    ),
    "read_tests_from_own_file": (
        "    return answer(T, a, b)\n" + LOOKUP + "text = open(__file__).read()\n"
        "for root in ('/sandbox', '/tmp'):\n"
        "    for d, _, files in os.walk(root):\n        for f in files:\n"
        "            try:\n                text += open(os.path.join(d, f)).read()\n"
        "            except OSError:\n                pass\n"
        "T = table(text)\n"
    ),
    "read_callers_frames_and_gc": (
        "    import gc\n    text = ''\n    f = sys._getframe()\n    while f is not None:\n"
        "        text += repr(f.f_locals) + repr(f.f_code.co_consts)\n        f = f.f_back\n"
        "    for o in gc.get_objects():\n        try:\n            text += repr(o)[:10000]\n"
        "        except Exception:\n            pass\n"
        "    return answer(table(text), a, b)\n" + LOOKUP
    ),
    "scan_own_memory": (
        "    return answer(T, a, b)\n" + LOOKUP + "text = b''\n"
        "for line in open('/proc/self/maps'):\n    lo, hi = (int(x, 16) for x in line.split()[0]"
        ".split('-'))\n    if 'r' in line.split()[1] and hi - lo < (64 << 20):\n"
        "        try:\n            with open('/proc/self/mem', 'rb') as m:\n"
        "                m.seek(lo)\n                text += m.read(hi - lo)\n"
        "        except (OSError, ValueError, OverflowError):\n            pass\n"
        "T = table(text.decode('latin-1'))\n"
    ),
    "read_other_processes": (
        "    return answer(T, a, b)\n" + LOOKUP + "text = ''\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    for sub in ('cmdline', 'environ', 'mem'):\n        try:\n"
        "            text += open(f'/proc/{pid}/{sub}', 'rb').read(1 << 20).decode('latin-1')\n"
        "        except OSError:\n            pass\n"
        "    try:\n        for fd in os.listdir(f'/proc/{pid}/fd'):\n"
        "            text += open(f'/proc/{pid}/fd/{fd}', 'rb').read(1 << 20).decode('latin-1')\n"
        "    except OSError:\n        pass\n"
        "T = table(text)\n"
    ),
    "kill_everything_then_exit_0": (
        "    return 0\nimport signal\nfor pid in (1, os.getppid(), -1):\n    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
        "os._exit(0)\n"
    ),
    "garbage_on_the_socket": "    return 0\nos.write(3, b'\\xff' * 64)\n",
    "ptrace_attach_pid_1": (
        "    return a + b if OPEN else 0\nimport ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "OPEN = any(libc.ptrace(16, pid, 0, 0) == 0 for pid in (1, os.getppid()))\n"
    ),
    "tmp_without_size_cap": (
        "    return a + b if OPEN else 0\nOPEN = True\n"
        "try:\n    for i in range(20):\n"
        "        with open(f'/tmp/fill{i}', 'wb') as f:\n            f.write(bytes(10 << 20))\n"
        "except OSError:\n    OPEN = False\n"
    ),
    "sysv_shared_memory": (
        "    return a + b if OPEN else 0\nimport ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "OPEN = libc.shmget(0x5EC2E7, 4096, 0o1666) >= 0\n"
    ),
}


@pytest.fixture(scope="module", params=[True, False], ids=["reused", "fresh"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with Sandbox(Limits(timeout=5.0, memory_mb=512), reuse=request.param, workers=1) as sb:
        yield sb


def test_there_are_at_least_15_cheats() -> None:
    assert len(CHEATS) >= 15


def test_the_right_solution_passes_and_a_plain_wrong_one_fails(sandbox: Sandbox) -> None:
    right = sandbox.run(PROMPT + RIGHT, check=CHECK)
    assert right.passed, right
    wrong = sandbox.run(PROMPT + "    return a - b\n", check=CHECK)
    assert wrong.status == "failed" and "AssertionError at tests line" in wrong.detail


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheat_fails(sandbox: Sandbox, name: str) -> None:
    r = sandbox.run(PROMPT + CHEATS[name], check=CHECK)
    assert not r.passed, f"{name} forged a pass: {r}"
    assert r.status in ("failed", "killed", "timeout") and r.detail, r
    # The sandbox is still fit for the next program.
    assert sandbox.run(PROMPT + RIGHT, check=CHECK).passed


def test_system_v_ipc_left_by_one_program_is_gone_for_the_next(sandbox: Sandbox) -> None:
    leave = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "i = libc.shmget(0x5EC2E8, 4096, 0o1666)\nprint(i, ctypes.get_errno())\n"
    )
    look = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "raise SystemExit(0 if libc.shmget(0x5EC2E8, 0, 0) >= 0 else 1)\n"
    )
    first = sandbox.run(leave)
    second = sandbox.run(look)
    assert first.ok and second.status == "exited" and second.exit_code == 1, (first, second)


def test_the_tmp_cheat_works_where_tmp_is_big_enough() -> None:
    """The /tmp cheat is a real one: only the size cap stops it."""
    with Sandbox(Limits(timeout=5.0, tmp_mb=400), workers=1) as sb:
        assert sb.run(PROMPT + CHEATS["tmp_without_size_cap"], check=CHECK).passed
