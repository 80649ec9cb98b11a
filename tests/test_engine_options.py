"""One definition of each engine option: the engine, the GUI panel and the CLI agree."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine_options import (
    add_engine_option_flags,
    defaults,
    engine_options_from_args,
    gui_options,
    pick_available,
    validate,
)
from engine.engines.base import engine_names, engine_spec
from engine.options import OptionInfo, option_infos, parse_options

ROOT = Path(__file__).resolve().parents[1]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_engine_option_flags(p)
    return p


@pytest.mark.parametrize("engine", ["classic", "genprop", "genprop-training-free"])
def test_every_option_has_one_definition_seen_by_gui_and_cli(engine: str) -> None:
    spec = engine_spec(engine)
    infos = spec.option_infos()
    assert infos, engine
    parser = _parser()
    flags = {a.dest: a for a in parser._actions}
    for info in infos:
        if info.cli:
            action = flags[f"opt_{info.name}"]
            assert action.default is None  # "not given": the engine's own default applies
            assert str(info.default if info.default is not None else "automatic") in action.help or info.kind == "bool"
            if info.kind == "choice":
                assert list(action.choices) == list(info.choices)
        # the engine accepts its own default and every bound, and refuses one step past a bound
        parse_options(spec.options, {info.name: info.default}, engine)
        for bound, past in ((info.minimum, -1), (info.maximum, +1)):
            if bound is None:
                continue
            parse_options(spec.options, {info.name: bound}, engine)
            with pytest.raises(ValueError, match=info.name):
                parse_options(spec.options, {info.name: bound + past}, engine)
    assert defaults(engine) == {i.name: i.default for i in infos if i.gui}
    assert [i.name for i in gui_options(engine)] == [i.name for i in infos if i.gui]


def test_gui_and_engine_apply_the_same_rule() -> None:
    kept = validate("classic", {"flow_preset": "bogus", "flow_max_side": 640, "remove_grow": -3})
    assert kept == {**defaults("classic"), "flow_max_side": 640}
    for bad in ({"flow_preset": "bogus"}, {"remove_grow": -3}, {"flow_max_side": 32}):
        with pytest.raises(ValueError):
            parse_options(engine_spec("classic").options, bad, "classic engine")
    assert validate("classic", {"flow_max_side": 64})["flow_max_side"] == 64  # the engine's minimum, not the GUI's own


def test_cli_flags_reach_the_engine_and_foreign_flags_are_refused() -> None:
    args = _parser().parse_args(["--flow-max-side", "480", "--flow-preset", "fast"])
    assert engine_options_from_args(args, "classic") == {"flow_max_side": 480, "flow_preset": "fast"}
    with pytest.raises(ValueError, match="is an option of the classic engine"):
        engine_options_from_args(args, "genprop")
    with pytest.raises(ValueError, match="flow_max_side"):
        engine_options_from_args(_parser().parse_args(["--flow-max-side", "20"]), "classic")
    args = _parser().parse_args(["--no-keep-original", "--steps", "3", "--device", "cuda:1"])
    assert engine_options_from_args(args, "genprop") == {"keep_original": False, "steps": 3, "device": "cuda:1"}
    with pytest.raises(ValueError, match="injection-weight"):
        engine_options_from_args(_parser().parse_args(["--injection-weight", "0.5"]), "genprop-training-free")


def test_option_checks_name_the_option() -> None:
    info = OptionInfo("feather", "int", 8, "Feather", "help", minimum=0, maximum=200)
    assert info.check(3.0) == 3
    for bad in (1e9, -1, 2.5, True, "3", float("nan")):
        with pytest.raises(ValueError, match="feather"):
            info.check(bad)
    assert [i.name for i in option_infos(engine_spec("classic").options)][:2] == ["flow_preset", "flow_max_side"]


def test_auto_picks_an_available_engine_and_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("GENPROP_SVD_PATH", raising=False)
    monkeypatch.delenv("GENPROP_WEIGHTS_PATH", raising=False)
    monkeypatch.delenv("GENPROP_DEMO_MODEL", raising=False)
    name, note = pick_available("auto", [str(tmp_path)])
    assert name == "classic" and "genprop:" in note and "not found" in note
    name, note = pick_available("genprop", [str(tmp_path)])
    assert name == "classic" and note.startswith("GenProp (SVD + SCE + MPD) is not available here")
    assert pick_available("classic") == ("classic", "")
    assert set(engine_names()) >= {"classic", "genprop", "genprop-training-free"}


def test_auto_takes_an_engine_that_accepts_the_options_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``--engine auto --svd X`` means a GenProp engine: before, auto chose classic and then refused --svd."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for var in ("GENPROP_SVD_PATH", "GENPROP_WEIGHTS_PATH", "GENPROP_DEMO_MODEL"):
        monkeypatch.delenv(var, raising=False)
    name, note = pick_available("auto", [str(tmp_path)], ["svd"])
    assert name == "genprop" and "svd" in note and "not found" in note
    name, note = pick_available("auto", [str(tmp_path)], ["flow_preset"])
    assert name == "classic" and "flow_preset" in note
    with pytest.raises(ValueError, match="no engine takes all"):
        pick_available("auto", [str(tmp_path)], ["svd", "flow_preset"])


def test_importing_the_registry_and_options_loads_no_torch() -> None:
    code = (
        "import sys; import app.engine_options, engine.engines.base as b; b.engine_names(); "
        "[b.engine_spec(n).availability() for n in b.engine_names()]; "
        "print('torch' in sys.modules, 'diffusers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
