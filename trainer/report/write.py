"""Write the report of an experiment: results.json, report.md and two figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ensemw2s.spec.results import ExperimentResults
from ensemw2s.trainer.files import write_atomically
from ensemw2s.trainer.report.errors import ReportError
from ensemw2s.trainer.report.plots import plot_accuracies, plot_accuracy_by_round
from ensemw2s.trainer.report.table import results_table

REPORT_MD = "report.md"
RESULTS_JSON = "results.json"
ACCURACY_BY_ROUND_PNG = "accuracy_by_round.png"
ACCURACIES_PNG = "accuracies.png"


@dataclass(frozen=True)
class ReportFiles:
    """Where `write_report` put each file."""

    table_md: Path
    accuracy_by_round_png: Path
    accuracies_png: Path
    results_json: Path


def report_markdown(results: ExperimentResults, figures_folder: str = "") -> str:
    """report.md's text; its figure links point into ``figures_folder`` (relative; "" = beside it)."""
    prefix = f"{figures_folder.rstrip('/')}/" if figures_folder else ""
    figures = (
        f"\n## Figures\n\n![accuracies]({prefix}{ACCURACIES_PNG})\n\n"
        f"![accuracy by round]({prefix}{ACCURACY_BY_ROUND_PNG})\n"
    )
    return results_table(results) + figures


def write_report(results: ExperimentResults, directory: Path) -> ReportFiles:
    """Write the four files into ``directory`` (created if missing); each write is atomic."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ReportError(f"directory: must be a directory (got the file {directory}); pass a folder for the report")
    directory.mkdir(parents=True, exist_ok=True)
    results_json = write_atomically(
        directory / RESULTS_JSON, (results.model_dump_json(by_alias=True, indent=2) + "\n").encode()
    )
    accuracy_by_round_png = plot_accuracy_by_round(results, directory / ACCURACY_BY_ROUND_PNG)
    accuracies_png = plot_accuracies(results, directory / ACCURACIES_PNG)
    table_md = write_atomically(directory / REPORT_MD, report_markdown(results).encode())
    return ReportFiles(
        table_md=table_md,
        accuracy_by_round_png=accuracy_by_round_png,
        accuracies_png=accuracies_png,
        results_json=results_json,
    )
