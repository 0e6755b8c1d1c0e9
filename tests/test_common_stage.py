"""The one stage edge and the one params pattern of tasks/common."""
from __future__ import annotations

import errno
from typing import Literal

import pytest
from pydantic import Field

from tasks.common.config import Section, validate_section
from tasks.common.params import ParamsError
from tasks.common.stage import EXIT_FAILED, StageError, describe_os_error, run_stage


class Inner(Section):
    motions_per_class: int = Field(6, ge=1)
    classes: list[str] | Literal["all"] = "all"


class Outer(Section):
    seed: int = 0
    strict: bool = False
    procedural: Inner = Inner()
    optional: Inner | None = None


def test_unknown_keys_name_the_dotted_key_and_the_nearest_valid_one():
    with pytest.raises(ParamsError) as err:
        validate_section(Outer, {"procedural": {"motions_per_clas": 1}}, "motion")
    assert str(err.value) == ("params.yaml: motion.procedural.motions_per_clas: unknown key "
                              "(did you mean 'motions_per_class'?)")
    with pytest.raises(ParamsError, match=r"motion\.procedual: unknown key \(did you mean 'procedural'\?\)"):
        validate_section(Outer, {"procedual": {}}, "motion")
    with pytest.raises(ParamsError, match=r"motion\.optional\.clases: unknown key \(did you mean 'classes'\?\)"):
        validate_section(Outer, {"optional": {"clases": []}}, "motion")
    with pytest.raises(ParamsError, match=r"motion\.zzz: unknown key \(valid: optional, procedural, seed, strict\)"):
        validate_section(Outer, {"zzz": 1}, "motion")


@pytest.mark.parametrize("text", ["false", "no", "0", "off", "False", False, 0])
def test_false_spellings_are_false(text):
    assert validate_section(Outer, {"strict": text}, "motion").strict is False


@pytest.mark.parametrize("text", ["true", "yes", "1", "on", True])
def test_true_spellings_are_true(text):
    assert validate_section(Outer, {"strict": text}, "motion").strict is True


def test_bad_values_name_their_key_on_one_line():
    with pytest.raises(ParamsError) as err:
        validate_section(Outer, {"seed": "abc", "strict": "maybe"}, "motion")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("params.yaml: motion.seed: Input should be a valid integer")
    assert "; motion.strict: Input should be a valid boolean" in message
    with pytest.raises(ParamsError, match=r"motion: must be a mapping of keys to values, got list"):
        validate_section(Outer, [1, 2], "motion")
    assert validate_section(Outer, None, "motion") == Outer()


def test_run_stage_turns_expected_failures_into_one_line(capsys):
    def fail(exc):
        def body():
            raise exc
        return body

    assert run_stage("sim", lambda: None) == 0
    assert run_stage("sim", lambda: 3) == 3
    cases = [
        (StageError("every motion was rejected"), "sim: every motion was rejected"),
        (ParamsError("params.yaml: sim.x: unknown key"), "sim: params.yaml: sim.x: unknown key"),
        (OSError(errno.ENOSPC, "No space left on device", "data/signals/a.npz"),
         "sim: data/signals/a.npz: no space left on the device (free some disk space, then rerun)"),
        (OSError(errno.EROFS, "Read-only file system", "out"),
         "sim: out: read-only file system (point the output somewhere writable)"),
        (ValueError("two\nlines"), "sim: two lines"),
    ]
    for exc, line in cases:
        assert run_stage("sim", fail(exc)) == EXIT_FAILED
        err = capsys.readouterr().err
        assert err == line + "\n"


def test_a_bug_keeps_its_traceback():
    def body():
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_stage("sim", body)


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("MMFLYWHEEL_DEBUG", "1")

    def body():
        raise StageError("x")

    with pytest.raises(StageError):
        run_stage("sim", body)


def test_os_errors_without_a_file_name():
    assert describe_os_error(OSError(errno.ENOSPC, "No space left on device")).startswith("no space left")
    assert describe_os_error(OSError(errno.EXDEV, "Invalid cross-device link", "a", None, "b")) == \
        "a -> b: Invalid cross-device link"
