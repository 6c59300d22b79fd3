"""Results to a human report: a markdown table, two figures and results.json (no torch)."""

from ensemw2s.trainer.report.errors import ReportError
from ensemw2s.trainer.report.plots import plot_accuracies, plot_accuracy_by_round
from ensemw2s.trainer.report.table import accuracy_table, results_table, rounds_table, seed_section
from ensemw2s.trainer.report.write import ReportFiles, report_markdown, write_report

__all__ = [
    "ReportError",
    "ReportFiles",
    "accuracy_table",
    "plot_accuracies",
    "plot_accuracy_by_round",
    "report_markdown",
    "results_table",
    "rounds_table",
    "seed_section",
    "write_report",
]
