import numpy as np
import pytest
from ensemw2s.spec.results import ExperimentResults
from ensemw2s.trainer.method import (
    HardTestOutcomes,
    chance_stop_reason,
    experiment_results,
    samme_alpha,
    seed_results,
    summarise_boosting,
)


def build_results(num_seeds: int, num_rounds: int) -> ExperimentResults:
    """A realistic experiment: per-round learners better than chance, some degenerate rounds."""
    seeds = []
    for seed in range(num_seeds):
        rng = np.random.default_rng(seed)
        eps = [0.0 if (seed == 0 and t % 2 == 1) else float(rng.uniform(0.2, 0.4)) for t in range(num_rounds)]
        alphas = [samme_alpha(e, 2).alpha for e in eps]
        val_labels = rng.integers(0, 2, size=50)
        test_labels = rng.integers(0, 2, size=60)

        def probs(labels, rng=rng):
            right = rng.uniform(0.3, 0.85, size=(num_rounds, labels.size))
            p1 = np.where(labels == 1, right, 1 - right)
            return np.stack([1 - p1, p1], axis=-1)

        boosting = summarise_boosting(eps, alphas, probs(val_labels), val_labels, probs(test_labels), test_labels)
        seeds.append(
            seed_results(
                seed,
                boosting,
                w2s=min(1.0, boosting.weak_accuracy + 0.01 * seed),
                ensemw2s=min(1.0, boosting.weak_ensemble_accuracy + 0.02),
                ceiling=0.95,
                stop_reason=chance_stop_reason(num_rounds, 0.52, 2) if seed == 2 else None,
            )
        )
    outcomes = [
        HardTestOutcomes(
            {name: np.arange(200) < round(value * 200) for name, value in seed.accuracies.model_dump().items()}
        )
        for seed in seeds
    ]
    return experiment_results(
        "sciq-gpt2-to-gpt2-medium", seeds, outcomes, weak_model="gpt2", strong_model="gpt2-medium"
    )


@pytest.fixture
def three_seeds_ten_rounds() -> ExperimentResults:
    return build_results(3, 10)
