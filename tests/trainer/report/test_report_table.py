from ensemw2s.spec.results import Accuracies, ExperimentResults, PGRs, SeedResults
from ensemw2s.spec.results_text import describe_effect
from ensemw2s.trainer.report import results_table, rounds_table


def hand_results() -> ExperimentResults:
    seed = SeedResults(
        seed=7,
        chosen_round=1,
        accuracies=Accuracies(weak=0.612, weak_ensemble=0.636, w2s=0.65, ensemw2s=0.66, ceiling=0.62),
        pgr=PGRs(w2s_vs_weak=None, ensemw2s_vs_weak=None, ensemw2s_vs_ensemble=-16.0),
        notes=["round 0: eps below 0.001 on the training data, boosting has no effect"],
        stop_reason="round 1: eps 0.52 >= 1 - 1/K = 0.5, learner no better than chance; stopped adding rounds",
    )
    return ExperimentResults(experiment="hand", seeds=[seed], mean=seed.accuracies, mean_pgr=seed.pgr)


def test_table_holds_accuracies_pgrs_notes_and_stop_reason():
    text = results_table(hand_results())
    assert "# EnsemW2S results: hand" in text
    assert "## Mean over 1 seed\n" in text
    assert "| weak (round 0)" in text and "0.612" in text
    assert "| weak ensemble (r=1)" in text and "0.636" in text
    assert "| EnsemW2S " in text and "-16.00" in text
    assert text.count("n/a") >= 4  # the PGRs vs weak, mean and seed rows
    assert "- round 0: eps below 0.001 on the training data, boosting has no effect" in text
    assert "Boosting stopped early: round 1: eps 0.52 >= 1 - 1/K = 0.5" in text
    assert "No per-round detail in these results (compact form)." in text


def test_table_with_real_results(three_seeds_ten_rounds):
    results = three_seeds_ten_rounds
    text = results_table(results)
    for effect in results.effects:
        assert f"- {describe_effect(effect)}" in text
    assert "- EnsemW2S > W2S: " in text and "better in" in text
    assert "Weak model: `gpt2`; strong model: `gpt2-medium`." in text
    mean_pgr, interval = results.mean_pgr.ensemw2s_vs_weak, results.mean_pgr_interval.ensemw2s_vs_weak
    assert f"{mean_pgr:.2f} [{interval.low:.2f}, {interval.high:.2f}]" in text
    assert "| whole weight" in text  # seed 0's odd rounds have eps = 0
    assert f"{results.mean.weak:.3f}" in text
    assert "## Seed 2" in text
    seed = results.seeds[0]
    assert f"{seed.rounds[3].eps:.4f}" in text
    assert f"{seed.rounds[2].alpha:.3f}" in text
    assert f"| {seed.chosen_round} (chosen)" in text


def test_rounds_table_rows_line_up(three_seeds_ten_rounds):
    seed = three_seeds_ten_rounds.seeds[0]
    lines = rounds_table(seed)
    assert len(lines) == 2 + 10
    assert lines[0].startswith("| round | eps")
    assert len({len(line) for line in lines}) == 1  # aligned columns
    first = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert first[0] == "0" and first[5].startswith("1")
    assert first[3] == f"{seed.rounds[0].val_accuracy:.3f}"
    second = [cell.strip() for cell in lines[3].strip("|").split("|")]
    assert second[-1] == "yes"  # seed 0's odd rounds are degenerate
