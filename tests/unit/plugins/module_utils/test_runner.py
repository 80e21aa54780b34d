"""The shared command runner: argv, LANG=C, timeout, history, check mode, logged output."""

import sys

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import TIMEOUT_RC, CommandFailed, Runner

PY = sys.executable


def test_passes_non_ascii_arguments_through_as_utf8():
    runner = Runner(environ={"PATH": "/usr/bin:/bin"})
    script = "import sys; print(sys.argv[1] == 'ümlaut ✓', sys.getfilesystemencoding())"
    result = runner.run([PY, "-c", script, "ümlaut ✓"])
    assert result.stdout == "True utf-8\n"


def test_runs_argv_with_c_locale_and_records_it():
    runner = Runner(environ={"PATH": "/usr/bin:/bin", "LANG": "de_DE.UTF-8"})
    result = runner.run([PY, "-c", "import os; print(os.environ['LANG'], os.environ['LC_ALL'])"])
    assert result.stdout == "C.UTF-8 C.UTF-8\n"
    assert runner.commands == [result.cmd]


def test_non_zero_exit_raises_with_the_result():
    runner = Runner()
    with pytest.raises(CommandFailed) as info:
        runner.run([PY, "-c", "import sys; sys.stderr.write('nope'); sys.exit(3)"])
    assert (info.value.result.rc, info.value.result.stderr) == (3, "nope")


def test_timeout_gives_timeout_rc():
    result = Runner(timeout=0.2).run([PY, "-c", "import time; time.sleep(5)"], check=False)
    assert result.rc == TIMEOUT_RC and result.timed_out


def test_check_mode_records_mutating_commands_without_running_them(tmp_path):
    marker = tmp_path / "made"
    runner = Runner(check_mode=True)
    result = runner.run(["touch", str(marker)], mutating=True)
    assert result.planned and not marker.exists()
    assert runner.commands == ["touch %s" % marker]


def test_missing_program_is_rc_127_not_an_exception():
    result = Runner().run(["/nonexistent/tool"], check=False)
    assert result.rc == 127 and "/nonexistent/tool" in result.stderr


def test_log_path_appends_output_and_returns_stderr_only_on_failure(tmp_path):
    log = tmp_path / "sub" / "console.log"
    runner = Runner()
    ok = runner.run([PY, "-c", "print('first')"], log_path=str(log))
    assert (ok.rc, ok.stdout, ok.stderr) == (0, "", "")
    bad = runner.run([PY, "-c", "import sys; print('second'); sys.exit(2)"], log_path=str(log), check=False)
    assert (bad.rc, bad.stderr) == (2, "second\n")
    assert log.read_text() == "first\nsecond\n"


def test_log_path_gives_the_child_dev_null_as_stdin(tmp_path):
    log = tmp_path / "console.log"
    Runner().run([PY, "-c", "import sys; print(repr(sys.stdin.read()))"], log_path=str(log))
    assert log.read_text() == "''\n"
