"""`make bench-smoke` (bench/_support/smoke.py): what counts as a benchmark printing its figures, and
the one switch (BENCH_SMOKE) every benchmark asks for its sizes. The smoke run itself runs in CI
(.ci/run), not here: it takes minutes."""
import importlib.util
import json
import re

from config.env import ROOT


def load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


support = load("bench_support", ROOT / "bench" / "_support" / "__init__.py")
smoke = load("bench_smoke", ROOT / "bench" / "_support" / "smoke.py")


def line(**row) -> str:
    return json.dumps({"figure": "x_seconds", "value": 1.5, "unit": "s", "goal": None, **row})


def test_stdout_must_be_figure_lines_only_and_at_least_one():
    assert smoke.check_figures(line() + "\n" + line(goal="< 5 s", value=3) + "\n\n") == []
    assert smoke.check_figures("") == ["no figure on stdout"]
    for bad in ("done.", line(value=None), line(value="1.5"), line(value=True), line(figure=""), line(unit=None),
                line(goal=5), json.dumps({"figure": "x", "value": 1, "unit": "s"}), line(extra=1), "[1, 2]",
                '{"figure": "x", "value": NaN, "unit": "s", "goal": null}'):
        problems = smoke.check_figures(line() + "\n" + bad)
        assert problems and "line 2" in problems[0], bad


def test_one_switch_picks_the_tiny_sizes_and_an_explicit_size_wins(monkeypatch):
    monkeypatch.delenv("BENCH_SMOKE", raising=False)
    monkeypatch.delenv("BENCH_N", raising=False)
    assert support.size(3000, 30, env="BENCH_N") == 3000
    monkeypatch.setenv("BENCH_SMOKE", "1")
    assert support.smoke() and support.size(3000, 30, env="BENCH_N") == 30
    monkeypatch.setenv("BENCH_N", "7")
    assert support.size(3000, 30, env="BENCH_N") == 7
    monkeypatch.setenv("BENCH_SMOKE", "0")
    monkeypatch.delenv("BENCH_N")
    assert not support.smoke() and support.size(3000, 30) == 3000


def test_every_benchmark_reads_its_sizes_through_the_switch():
    for script in sorted((ROOT / "bench").glob("*.py")):
        source = script.read_text()
        assert re.search(r"\bsize\(|\bsmoke\(\)|BENCH_SMOKE", source), f"{script.name} ignores BENCH_SMOKE"
