"""The shipped JSON Schemas describe the real output (and reject output that breaks them)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from itsrace.cli.main import main
from itsrace.schemas import NAMES, load

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (pip install -e '.[test]')")


def validate(name: str, data: Any) -> None:
    schema = load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def out_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    main(argv)
    return json.loads(capsys.readouterr().out)


def test_every_schema_ships_and_is_valid() -> None:
    for name in NAMES:
        jsonschema.Draft202012Validator.check_schema(load(name))
    with pytest.raises(ValueError):
        load("nope")


def test_check_json_and_its_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.json"
    data = out_of(["check", "--scenario", "spurious-after-remove", "--json", "--trace-out", str(path)], capsys)
    validate("check", data)
    validate("trace", json.loads(path.read_text()))
    for v in data["violations"]:
        validate("trace", v["trace"])
    broken = copy.deepcopy(data)
    broken["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        validate("check", broken)
    broken = json.loads(path.read_text())
    broken["steps"][0]["changes"] = {"x": [1]}
    with pytest.raises(jsonschema.ValidationError):
        validate("trace", broken)


def test_bench_trace_matches_the_trace_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bug.json"
    main(["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--bug", "--trace-out", str(path)])
    capsys.readouterr()
    validate("trace", json.loads(path.read_text()))


def test_bench_json_matches_the_bench_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.json"
    passed = out_of(["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--json", "--out", str(out)], capsys)
    assert passed["schema_version"] == 1 and passed["verdict"] == "pass"
    validate("bench", passed)
    validate("bench", json.loads(out.read_text()))
    status = main(["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--bug", "--json", "--engine", "python",
                   "--trace-out", str(tmp_path / "bug.json")])
    assert status == 1  # a violation; the object is still printed
    failed = json.loads(capsys.readouterr().out)
    assert failed["verdict"] == "fail" and failed["violations"] and failed["engine"] == "python"
    validate("bench", failed)
    broken = copy.deepcopy(failed)
    broken["violations"][0]["kind"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        validate("bench", broken)
    del broken["schema_version"]
    with pytest.raises(jsonschema.ValidationError):
        validate("bench", broken)
