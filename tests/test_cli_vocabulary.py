"""The CLI speaks one vocabulary: every command's options are checked against vgg_deploy/cli/vocabulary.py, every
old spelling still works with one deprecation line and is listed in CHANGELOG.md, README's table is current.

A new command: add its row to COMMANDS (and a TERMS row for each new option name) in vgg_deploy/cli/vocabulary.py,
and a case to DEPRECATED below for each old spelling it keeps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from vgg_deploy.bench.backends import BACKENDS as BENCH_BACKENDS
from vgg_deploy.cli import main
from vgg_deploy.cli.params import (
    REMOVED_IN, Command, DeprecatedAlias, IntList, calibration_options, conversion_options, deprecated_spellings,
    parse_int_list,
)
from vgg_deploy.cli.reference import render_reference, replace_reference
from vgg_deploy.cli.vocabulary import COMMANDS, RETIRED, TERMS

ROOT = Path(__file__).resolve().parents[1]


def _visible_options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def _declaration(option: click.Option) -> tuple[Any, ...]:
    return (tuple(option.opts), type(option.type).__name__, repr(option.type), option.default, option.help)


@conversion_options
def _shared() -> None:
    """The shared declarations, as conversion_options makes them."""


SHARED = {max(p.opts, key=len): _declaration(p) for p in click.command()(_shared).params if isinstance(p, click.Option)}


@calibration_options
def _calibration() -> None:
    """The calibration options alone, as calibration_options makes them (a part of SHARED)."""


CALIBRATION = {max(p.opts, key=len) for p in click.command()(_calibration).params if isinstance(p, click.Option)}


def test_every_command_has_a_vocabulary_row():
    missing = sorted(set(main.commands) - set(COMMANDS))
    assert not missing, f"add a CommandRow for {missing} to COMMANDS in vgg_deploy/cli/vocabulary.py"
    assert not set(COMMANDS) - set(main.commands), "COMMANDS lists a command the CLI does not have"


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_options_follow_the_vocabulary(name):
    command, row = main.commands[name], COMMANDS[name]
    assert isinstance(command, Command), f"{name}: declare it with @click.command(cls=params.Command)"
    options = _visible_options(command)
    for option in options:
        long = [opt for opt in option.opts if opt.startswith("--")]
        assert long, f"{name}: {option.opts} has no --long name"
        unknown = [opt for opt in long if opt not in TERMS]
        assert not unknown, f"{name}: {unknown} not in TERMS (vgg_deploy/cli/vocabulary.py): use the existing " \
                            "name for that meaning, or add a row"
        assert not set(option.opts) & set(RETIRED), f"{name}: {option.opts} is a retired spelling"
        for opt in long:
            term = TERMS[opt]
            if term.type is not None:
                assert isinstance(option.type, term.type), f"{name} {opt}: must be a {term.type.__name__}"
            if term.short is not None:
                assert term.short in option.opts, f"{name} {opt}: must also be {term.short}"
            if term.shared in ("conversion", "calibration"):
                assert _declaration(option) == SHARED[opt], f"{name} {opt}: declare it with params.{term.shared}_options"
        if "-o" in option.opts:
            assert "--output" in option.opts, f"{name}: -o means --output"
    names = {opt for option in options for opt in option.opts}
    if row.conversion:
        assert set(SHARED) <= names, f"{name}: the calibration options come all together from params.conversion_options"
    elif row.calibration:
        assert CALIBRATION <= names and not (set(SHARED) - CALIBRATION) & names, \
            f"{name}: the calibration options (no gates) come all together from params.calibration_options"
    else:
        assert not (set(SHARED) - {"--seed"}) & names, f"{name}: shared calibration options without a COMMANDS row"
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    models = [a for a in arguments if "MODEL" in (a.metavar or "")]
    if row.model == "one":
        assert [(a.name, a.metavar, a.nargs) for a in models] == [("model", "MODEL", 1)], \
            f"{name}: reads one model file: use params.model_argument()"
    elif row.model == "many":
        assert len(models) == 1 and models[0].nargs == -1 and models[0].metavar in ("MODEL...", "[MODEL]..."), name
    else:
        assert not models, f"{name}: COMMANDS says it reads no model file"
    for option in options:
        if "--backend" in option.opts and isinstance(option.type, click.Choice):
            known = {"auto", *BENCH_BACKENDS, *(b.family for b in BENCH_BACKENDS.values())}
            assert set(option.type.choices) <= known, f"{name} --backend: use the bench's backend names"


@pytest.mark.parametrize("name", sorted(main.commands))
def test_help_shows_only_the_final_names(name):
    text = CliRunner().invoke(main, [name, "--help"]).output
    for old in RETIRED:
        assert not re.search(re.escape(old) + r"(?![\w-])", text), f"{name} --help mentions {old}"


def test_every_old_spelling_is_hidden_and_in_the_changelog():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"removed in {REMOVED_IN}" in changelog
    rows = [line for line in changelog.splitlines() if line.startswith("| `")]
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, DeprecatedAlias):
                assert param.hidden
        for old, _new in deprecated_spellings(command):
            flag, _, value = old.partition(" ")
            assert any(line.startswith(f"| `{name}` |") and f"`{flag}" in line and value.strip("N") in line
                       for line in rows), f"CHANGELOG.md has no rename row for `{name} {old}`"


# (command, the old spelling as deprecated_spellings names it, args with it, the same args in the final names)
DEPRECATED = [
    ("quantize", "--onnx", ["--onnx", "{m}", "--precision", "fp16", "-o", "o.onnx"],
     ["{m}", "--precision", "fp16", "-o", "o.onnx"]),
    ("build-trt", "--onnx", ["--onnx", "{m}", "-o", "o.plan"], ["{m}", "-o", "o.plan"]),
    ("build-trt", "--batch", ["{m}", "--batch", "1:2:4", "-o", "o.plan"], ["{m}", "--profile", "1:2:4", "-o", "o.plan"]),
    ("build-trt", "--device N", ["{m}", "--device", "1", "-o", "o.plan"], ["{m}", "--device", "cuda:1", "-o", "o.plan"]),
    ("export", "--batch", ["--model", "vgg_tiny", "--batch", "2", "-o", "o.onnx"],
     ["--model", "vgg_tiny", "--fixed-batch", "2", "-o", "o.onnx"]),
    ("bench", "--out", ["--model", "vgg_tiny", "--out", "d"], ["--model", "vgg_tiny", "-o", "d"]),
    ("report", "--out", ["{m}", "--out", "d"], ["{m}", "--output", "d"]),
    ("loadtest", "--out", ["h:1", "--out", "d"], ["h:1", "-o", "d"]),
    ("loadtest", "--batch", ["h:1", "--batch", "4"], ["h:1", "--batch-size", "4"]),
    ("loadtest", "--model", ["h:1", "--model", "m"], ["h:1", "--name", "m"]),
    ("serve", "--backend openvino", ["{m}", "--backend", "openvino"], ["{m}", "--backend", "ov"]),
    ("triton-repo", "--kind", ["{m}", "--kind", "gpu", "-o", "r"], ["{m}", "--device", "cuda", "-o", "r"]),
    ("triton-repo", "--preferred-batch", ["{m}", "--preferred-batch", "16,8", "-o", "r"],
     ["{m}", "--preferred-batch-sizes", "8,16", "-o", "r"]),
]


def test_every_old_spelling_has_a_case():
    declared = {(name, old) for name, command in main.commands.items() for old, _ in deprecated_spellings(command)}
    assert declared == {(name, old) for name, old, _, _ in DEPRECATED}


@pytest.mark.parametrize("name,old,args,new_args", DEPRECATED, ids=[f"{c[0]} {c[1]}" for c in DEPRECATED])
def test_old_spelling_works_with_one_warning(name, old, args, new_args, tmp_path, capsys):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    command = main.commands[name]

    def parse(words: list[str]) -> dict[str, Any]:
        ctx = command.make_context(name, [w.replace("{m}", str(model)) for w in words])
        return {k: v for k, v in ctx.params.items() if not k.startswith("deprecated__")}

    assert parse(args) == parse(new_args)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "deprecated" in lines[0] and old.split()[0] in lines[0] and REMOVED_IN in lines[0]


def test_old_spelling_end_to_end(tmp_path):
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(main, ["export", "--model", "vgg_tiny", "--batch", "2", "--json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["input_shape"][0] == 2
    assert [line for line in result.stderr.splitlines() if "deprecated" in line] == \
        [f"Warning: --batch is deprecated and goes in vgg-deploy {REMOVED_IN}; use --fixed-batch"]


def test_old_and_new_spelling_together_is_a_usage_error(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    result = CliRunner().invoke(main, ["quantize", "--onnx", str(model), str(model), "--precision", "fp16", "-o", "x"])
    assert result.exit_code == 2 and "give only MODEL" in result.output


def test_missing_model_is_a_usage_error_naming_it():
    result = CliRunner().invoke(main, ["build-trt", "-o", "x.plan"])
    assert result.exit_code == 2 and "Missing argument 'MODEL'" in result.output


def test_bad_value_under_an_old_spelling_names_that_spelling(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    result = CliRunner().invoke(main, ["build-trt", str(model), "--batch", "8:4:32", "-o", "x.plan"])
    assert result.exit_code == 2 and "'--batch'" in result.output and "MIN <= OPT <= MAX" in result.output


def test_device_values(tmp_path):
    assert CliRunner().invoke(main, ["bench", "--model", "vgg_tiny", "--device", "tpu"]).exit_code == 2
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    result = CliRunner().invoke(main, ["build-trt", str(model), "--device", "cpu", "-o", "x.plan"])
    assert result.exit_code == 2 and "use cuda or cuda:N" in result.output
    result = CliRunner().invoke(main, ["triton-repo", str(model), "--device", "cuda:1", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "use cpu or cuda\n" in result.output


@pytest.mark.parametrize("text,expected", [("1,8,32", (1, 8, 32)), ("4", (4,)), ("2, 1,", (2, 1))])
def test_one_comma_list_parser(text, expected):
    assert parse_int_list(text) == expected
    assert IntList().convert(text, None, None) == expected
    assert IntList(sort=True).convert(text, None, None) == tuple(sorted(expected))


@pytest.mark.parametrize("text", ["", "1,x", "0,8", "none"])
def test_comma_list_refuses(text):
    with pytest.raises(click.BadParameter, match="list of batch sizes"):
        IntList().convert(text, None, None)
    assert IntList(none_word="none").convert("none", None, None) == ()


def test_readme_command_reference_is_current():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert replace_reference(readme, render_reference(main)) == readme, \
        "README.md's command reference is stale: run python scripts/cli_reference.py"


def test_the_shared_options_fold_into_the_request_objects():
    """A command gets the shared options as one ConversionOptions, built by ConversionOptions.of."""
    from vgg_deploy.cli.params import ConversionOptions
    from vgg_deploy.precision import CalibrationRequest, FallbackPolicy, ParityGates

    seen = {}

    @click.command()
    @conversion_options
    @click.option("--target", default="tensorrt")
    def convert(conversion, target):
        seen["convert"] = conversion.request(precision="int8", target=target)

    @click.command()
    @calibration_options
    def calibrate(conversion):
        seen["calibrate"] = conversion

    args = ["--calib-data", "digits", "--calib-method", "minmax", "--seed", "3", "--min-cosine", "0.9",
            "--fallback", "auto", "--max-fallback-layers", "2", "--target", "cpu"]
    assert CliRunner().invoke(convert, args).exit_code == 0
    request = seen["convert"]
    assert (request.precision, request.target) == ("int8", "cpu")
    assert request.calibration == CalibrationRequest(data="digits", method="minmax", seed=3)
    assert request.gates == ParityGates(min_cosine=0.9) and request.fallback == FallbackPolicy("auto", 2)
    assert CliRunner().invoke(calibrate, ["--calib-data", "x.npy", "--calib-batch", "8"]).exit_code == 0
    assert seen["calibrate"] == ConversionOptions(calibration=CalibrationRequest(data="x.npy", batch=8))
    flat = {"calib_data": "digits", "quantizer": "ort", "calib_method": "minmax", "calib_samples": 128,
            "calib_batch": 16, "seed": 3, "min_top1_agreement": None, "min_cosine": 0.9, "fallback": "auto",
            "max_fallback_layers": 2}
    assert ConversionOptions.of(flat).request(precision="int8", target="cpu") == request
