"""The alerts of ``manifests/monitoring/prometheusrule.yaml`` under ``promtool``: the rules load, and the unit
tests in ``tests/metrics/prometheus/rules_test.yaml`` pass, with a firing case for every alert."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULE = ROOT / "manifests" / "monitoring" / "prometheusrule.yaml"
RULE_TESTS = Path(__file__).parent / "prometheus" / "rules_test.yaml"


def rule_file(folder: Path) -> Path:
    """The PrometheusRule's ``spec`` (a plain rule file: ``groups``) where the unit tests look for it."""
    [rule] = [doc for doc in yaml.safe_load_all(RULE.read_text(encoding="utf-8")) if doc]
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False), encoding="utf-8")
    return path


def alert_names() -> set[str]:
    [rule] = [doc for doc in yaml.safe_load_all(RULE.read_text(encoding="utf-8")) if doc]
    return {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}


def test_promtool_checks_the_rules(promtool: str, tmp_path: Path) -> None:
    checked = subprocess.run(
        [promtool, "check", "rules", str(rule_file(tmp_path))], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in checked.stdout


def test_promtool_unit_tests_of_every_alert_pass(promtool: str, tmp_path: Path) -> None:
    rule_file(tmp_path)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    tested = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test_where_it_fires_and_one_where_it_does_not() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    checks = [check for case in cases for check in case.get("alert_rule_test", [])]
    fires = {check["alertname"] for check in checks if check["exp_alerts"]}
    quiet = {check["alertname"] for check in checks if not check["exp_alerts"]}
    assert alert_names() - fires == set(), "alerts without a firing unit test"
    assert alert_names() - quiet == set(), "alerts without a unit test where they stay quiet"


def test_a_broken_rule_fails_promtool(promtool: str, tmp_path: Path) -> None:
    """The check can fail: a rule with a PromQL syntax error is refused."""
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "X", "expr": "sum(("}]}]}))
    checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode != 0
