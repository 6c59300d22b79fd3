"""How many examples each split strategy needs: the one definition of the split-size arithmetic.

The spec checks it against ``maxItems``, the preflight against a local file's rows and the prepare stage
against the loaded pool, all with this function, so the three can never disagree.

- ``random``: easy + val + hardTrain + hardTest examples drawn from the whole pool.
- ``e2h``: the pool sorted by difficulty is cut in half (an odd pool gives the extra example to the hard
  half); easy and val come from the easier half, hardTrain and hardTest from the harder one.
"""

from __future__ import annotations

from .errors import Problem, problem
from .experiment import SplitSizes, SplitStrategy

FIX = "lower spec.dataset.sizes{which} or raise spec.dataset.maxItems"


def easy_half(pool: int) -> int:
    """Examples in the easier half of an easy-to-hard split of ``pool`` examples."""
    return pool // 2


def split_shortfalls(
    sizes: SplitSizes, strategy: SplitStrategy, pool: int, pool_name: str = "examples"
) -> list[Problem]:
    """Every split side that asks for more examples than a pool of ``pool`` holds (empty: the sizes fit)."""
    if strategy is SplitStrategy.RANDOM:
        if sizes.total <= pool:
            return []
        return [
            problem(
                "spec.dataset.sizes",
                f"easy + val + hardTrain + hardTest = {sizes.total} but the pool holds {pool} {pool_name}",
                fix=FIX.format(which=""),
            )
        ]
    easy, hard = easy_half(pool), pool - easy_half(pool)
    sides = (
        ("easy + val", sizes.easy + sizes.val, "easy half", easy, ".easy/val"),
        ("hardTrain + hardTest", sizes.hard_train + sizes.hard_test, "hard half", hard, ".hardTrain/hardTest"),
    )
    return [
        problem(
            "spec.dataset.sizes",
            f"{asked_name} = {asked} but the {side} holds {available} of {pool} {pool_name}",
            fix=FIX.format(which=which),
        )
        for asked_name, asked, side, available, which in sides
        if asked > available
    ]
