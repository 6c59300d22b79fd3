import json

import pytest
from ensemw2s.spec.results import ExperimentResults, SeedResults
from ensemw2s.trainer.report import ReportError, plot_accuracies, plot_accuracy_by_round, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_write_report_writes_four_files(tmp_path, three_seeds_ten_rounds):
    files = write_report(three_seeds_ten_rounds, tmp_path / "report")
    assert files.table_md.name == "report.md"
    assert files.results_json.name == "results.json"
    for png in (files.accuracy_by_round_png, files.accuracies_png):
        assert png.read_bytes().startswith(PNG_MAGIC)
    data = json.loads(files.results_json.read_text())
    assert ExperimentResults.model_validate(data) == three_seeds_ten_rounds
    assert "weakEnsemble" in files.results_json.read_text()
    markdown = files.table_md.read_text()
    assert "## Effects" in markdown and "![accuracies](accuracies.png)" in markdown
    assert sorted(path.name for path in files.table_md.parent.iterdir()) == [
        "accuracies.png",
        "accuracy_by_round.png",
        "report.md",
        "results.json",
    ]


def test_write_report_overwrites(tmp_path, three_seeds_ten_rounds):
    write_report(three_seeds_ten_rounds, tmp_path)
    files = write_report(three_seeds_ten_rounds.compact(), tmp_path)
    assert json.loads(files.results_json.read_text())["seeds"][0]["rounds"] == []


def test_plots_without_per_round_data_or_accuracies(tmp_path):
    bare = ExperimentResults(experiment="bare", seeds=[SeedResults(seed=0, chosen_round=1)])
    assert plot_accuracy_by_round(bare, tmp_path / "a.png").read_bytes().startswith(PNG_MAGIC)
    assert plot_accuracies(bare, tmp_path / "b.png").read_bytes().startswith(PNG_MAGIC)


def test_write_report_rejects_a_file_as_directory(tmp_path, three_seeds_ten_rounds):
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(ReportError, match=r"directory: must be a directory \(got the file .*taken\)"):
        write_report(three_seeds_ten_rounds, target)


@pytest.fixture(params=[0o022, 0o002], ids=["umask-022", "umask-002"])
def umask(request):
    """Run the test under this umask (restored afterwards)."""
    import os

    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_report_files_are_readable_by_the_group(tmp_path, three_seeds_ten_rounds, umask):
    """Stores are shared volumes: a report is 0644 (or 0664), as any new file, never a temp file's 0600."""
    files = write_report(three_seeds_ten_rounds, tmp_path / "report")
    expected = 0o666 & ~umask
    for path in (files.table_md, files.results_json, files.accuracies_png, files.accuracy_by_round_png):
        assert path.stat().st_mode & 0o777 == expected, path
    assert not [p for p in (tmp_path / "report").iterdir() if p.name.startswith(".")], "no temporary file left"
