from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakehound.engine.classify import (
    Observation,
    classify_failure,
    configuration_label,
    evidence_strength,
    failure_rate,
    is_settled,
    summarize_evidence,
)
from flakehound.engine.stats import failure_rate_upper_bound, wilson_interval
from flakehound.models import Configuration, ConfigurationCount, FailureKind, RunPurpose

ORIGINAL = Configuration(purpose=RunPurpose.ORIGINAL)
REPLAY = Configuration(purpose=RunPurpose.ORIGINAL_ORDER)
ALONE = Configuration(purpose=RunPurpose.ALONE)
REVERSED = Configuration(purpose=RunPurpose.REVERSED)


def seed(value: int) -> Configuration:
    """Return the configuration of one permuted order."""
    return Configuration(purpose=RunPurpose.PERMUTED, seed=value)


def runs(*groups: tuple[Configuration, str]) -> list[Observation]:
    """Observations from marks per configuration, as in the report's strips: F failed, . passed."""
    return [Observation(configuration, failed=mark == "F") for configuration, marks in groups for mark in marks]


@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        pytest.param(
            runs((ORIGINAL, "F"), (seed(1), "F"), (REVERSED, "F"), (ALONE, "FFFFF"), (REPLAY, "FFF")),
            FailureKind.DETERMINISTIC,
            id="deterministic-fails-everywhere",
        ),
        pytest.param(runs((ORIGINAL, "F"), (ALONE, "FF.")), FailureKind.INTERMITTENT, id="intermittent-alone-flip"),
        pytest.param(
            runs((ORIGINAL, "F"), (ALONE, "....."), (REPLAY, "F.F")),
            FailureKind.INTERMITTENT,
            id="intermittent-replay-flip",
        ),
        pytest.param(
            runs((ORIGINAL, "F"), (ALONE, "FFFFF"), (REPLAY, ".")),
            FailureKind.INTERMITTENT,
            id="intermittent-original-run-vs-its-replay",
        ),
        pytest.param(
            runs((ORIGINAL, "F"), (seed(7), "F"), (ALONE, "....."), (seed(7), ".")),
            FailureKind.INTERMITTENT,
            id="intermittent-permuted-order-flip",
        ),
        pytest.param(
            runs((ORIGINAL, "F"), (seed(1), "."), (ALONE, "....."), (REPLAY, "FFF")),
            FailureKind.ORDER_DEPENDENT,
            id="order-dependent",
        ),
        pytest.param(
            runs((ORIGINAL, "F"), (seed(1), "F"), (seed(2), "."), (ALONE, ".....")),
            FailureKind.ORDER_DEPENDENT,
            id="flip-across-two-orders-is-not-intermittent",
        ),
        pytest.param(
            runs((ORIGINAL, "F"), (seed(1), "."), (ALONE, "FFFFF"), (REPLAY, "FFF")),
            FailureKind.BRITTLE,
            id="brittle",
        ),
        pytest.param(
            runs((ORIGINAL, "."), (seed(99), "F"), (REVERSED, "."), (ALONE, "....."), (seed(99), "FFF")),
            FailureKind.ORDER_DEPENDENT,
            id="latent-order-dependent-in-permuted-seed",
        ),
        pytest.param(runs((ORIGINAL, "."), (ALONE, "..."), (seed(3), ".")), None, id="never-failed"),
        pytest.param([], None, id="no-observations"),
    ],
)
def test_classify_failure_rules(observations: list[Observation], expected: FailureKind | None) -> None:
    """Each label rule of the module docstring gives its label, and a test that never failed gets none."""
    assert classify_failure(observations) is expected


@pytest.mark.parametrize(
    ("configuration", "label"),
    [
        pytest.param(ORIGINAL, "original order", id="original"),
        pytest.param(REPLAY, "original order", id="replay-shares-the-original-label"),
        pytest.param(ALONE, "alone", id="alone"),
        pytest.param(REVERSED, "reversed", id="reversed"),
        pytest.param(seed(1234), "seed 1234", id="permuted"),
    ],
)
def test_configuration_label(configuration: Configuration, label: str) -> None:
    """Each configuration has a short human name; the original run and its replays share one."""
    assert configuration_label(configuration) == label


def test_is_settled_only_by_a_flip_within_one_configuration() -> None:
    """A flip under identical conditions settles the label; differing outcomes in two orders do not."""
    assert not is_settled(runs((seed(1), "F"), (seed(2), "."), (ALONE, "...")))
    assert is_settled(runs((ORIGINAL, "F"), (REPLAY, ".")))


# Property tests over the run-record rules ---------------------------------------------------------

CONFIGURATIONS = [ORIGINAL, REPLAY, ALONE, REVERSED, seed(1), seed(2), seed(3)]
observation_lists = st.lists(
    st.builds(Observation, configuration=st.sampled_from(CONFIGURATIONS), failed=st.booleans()), max_size=25
)


def _same_conditions(configuration: Configuration) -> object:
    """Group independently: ORIGINAL_ORDER runs replay the original run, the rest go by purpose and seed."""
    if configuration.purpose is RunPurpose.ORIGINAL_ORDER:
        return RunPurpose.ORIGINAL, None
    return configuration.purpose, configuration.seed


@given(observation_lists)
def test_any_flip_under_one_configuration_is_intermittent(observations: list[Observation]) -> None:
    """When one configuration holds both a pass and a failure the label is intermittent, and only then."""
    outcomes: dict[object, set[bool]] = defaultdict(set)
    for observation in observations:
        outcomes[_same_conditions(observation.configuration)].add(observation.failed)
    flipped = any(len(seen) == 2 for seen in outcomes.values())
    assert (classify_failure(observations) is FailureKind.INTERMITTENT) == flipped


@given(st.lists(st.sampled_from(CONFIGURATIONS), min_size=1, max_size=25))
def test_failing_every_run_is_deterministic(configurations: list[Configuration]) -> None:
    """A test that failed in every run of every configuration is deterministic."""
    observations = [Observation(configuration, failed=True) for configuration in configurations]
    assert classify_failure(observations) is FailureKind.DETERMINISTIC


@given(observation_lists)
def test_labels_follow_the_alone_runs(observations: list[Observation]) -> None:
    """Brittle needs every alone run failed, order-dependent none, deterministic every run failed."""
    label = classify_failure(observations)
    alone = [o.failed for o in observations if o.configuration == ALONE]
    if label is FailureKind.BRITTLE:
        assert alone
        assert all(alone)
    if label is FailureKind.ORDER_DEPENDENT:
        assert not any(alone)
    if label is FailureKind.DETERMINISTIC:
        assert all(o.failed for o in observations)
    assert (label is None) == (not any(o.failed for o in observations))


@given(observations=observation_lists, data=st.data())
def test_labels_and_counts_ignore_the_order_of_observations(
    observations: list[Observation], data: st.DataObject
) -> None:
    """Reordering observations (within or across configurations) changes neither label nor counts."""
    shuffled = data.draw(st.permutations(observations))
    assert classify_failure(shuffled) is classify_failure(observations)
    before, after = summarize_evidence(observations), summarize_evidence(shuffled)
    assert (after.alone, after.original_order, after.permuted) == (
        before.alone,
        before.original_order,
        before.permuted,
    )
    assert set(after.failing_orders) == set(before.failing_orders)
    assert set(after.passing_orders) == set(before.passing_orders)


@given(observation_lists)
def test_evidence_counts_add_up(observations: list[Observation]) -> None:
    """Every observation is counted once: runs and failures per kind add up to the totals and the strips."""
    evidence = summarize_evidence(observations)
    counts = [evidence.alone, evidence.original_order, evidence.permuted]
    assert sum(count.runs for count in counts) == len(observations)
    assert sum(count.failures for count in counts) == sum(o.failed for o in observations)
    assert sum(len(strip) for strip in evidence.strip.values()) == len(observations)
    assert sum(strip.count("F") for strip in evidence.strip.values()) == sum(o.failed for o in observations)


# Evidence, failure rate, strength ---------------------------------------------------------------


def test_summarize_evidence_counts_strips_and_orders() -> None:
    """Counts per kind, a strip per configuration in first-seen order, orders that always failed or passed."""
    observations = runs(
        (ORIGINAL, "F"), (seed(7), "F"), (seed(8), "."), (REVERSED, "F."), (ALONE, "....."), (REPLAY, "FFF")
    )
    evidence = summarize_evidence(observations)
    assert evidence.alone == ConfigurationCount(runs=5, failures=0)
    assert evidence.original_order == ConfigurationCount(runs=4, failures=4)
    assert evidence.permuted == ConfigurationCount(runs=4, failures=2)
    assert evidence.strip == {
        "original order": "FFFF",
        "seed 7": "F",
        "seed 8": ".",
        "reversed": "F.",
        "alone": ".....",
    }
    assert list(evidence.strip) == ["original order", "seed 7", "seed 8", "reversed", "alone"]
    assert evidence.failing_orders == ("original order", "seed 7")
    assert evidence.passing_orders == ("seed 8",)


def test_summarize_evidence_never_lists_alone_as_an_order() -> None:
    """Running alone is not an order: it shows in the strip and counts, never in failing or passing orders."""
    evidence = summarize_evidence(runs((ORIGINAL, "F"), (ALONE, "FFF")))
    assert evidence.failing_orders == ("original order",)
    assert evidence.passing_orders == ()
    assert evidence.strip["alone"] == "FFF"


@pytest.mark.parametrize(
    ("observations", "failures", "total"),
    [
        pytest.param(
            runs((ORIGINAL, "F"), (ALONE, "FFFFF"), (REPLAY, ".F.F")),
            3,
            5,
            id="flipping-original-order-not-alone",
        ),
        pytest.param(runs((ORIGINAL, "F"), (ALONE, "F..F."), (seed(4), "F.")), 2, 5, id="longest-flipping-group"),
        pytest.param(runs((ORIGINAL, "F"), (ALONE, "FFFF")), 4, 4, id="no-flip-uses-largest-group"),
    ],
)
def test_failure_rate_uses_the_flipping_configuration(
    observations: list[Observation], failures: int, total: int
) -> None:
    """The rate is measured where identical runs flipped (largest such group), with its Wilson interval."""
    rate = failure_rate(observations)
    low, high = wilson_interval(failures, total)
    assert (rate.failures, rate.runs) == (failures, total)
    assert rate.estimate == failures / total
    assert (rate.low, rate.high) == (low, high)


def test_evidence_strength_of_a_never_reproduced_failure() -> None:
    """A failure no rerun reproduced states its clean runs, the rate bound they allow and the runs needed."""
    observations = runs((ORIGINAL, "F"), (ALONE, "....."), (REPLAY, "..."))
    strength = evidence_strength(observations, permuted_orders=3)
    assert strength.clean_runs == 8
    assert strength.failure_rate_upper_bound == failure_rate_upper_bound(8)
    assert strength.clean_runs_needed == 299
    assert strength.unseen_single_polluter_chance == 0.125
    assert strength.sentence == (
        "with 3 seeded shuffles (the reversed order aside), a single-polluter order dependence had a 12.5% chance"
        " of going unseen; the failure never reproduced in 8 reruns, so its failure rate may still be up to 31% (95%),"
        " and 299 clean runs would bound it below 1%"
    )


@pytest.mark.parametrize(
    ("observations", "clean"),
    [
        pytest.param(runs((ORIGINAL, "F"), (ALONE, "F...."), (REPLAY, "...")), 7, id="clean-streak-after-failure"),
        pytest.param(runs((ORIGINAL, "F"), (ALONE, "....F")), 0, id="last-rerun-failed"),
        pytest.param(runs((ORIGINAL, "F")), 0, id="no-reruns"),
        pytest.param(runs((ORIGINAL, "."), (seed(5), "F"), (ALONE, "..")), 2, id="latent-original-pass-ignored"),
    ],
)
def test_evidence_strength_when_the_failure_reproduced_or_was_never_rerun(
    observations: list[Observation], clean: int
) -> None:
    """Without a clean record of reruns there is no rate bound: only the unseen-polluter chance is stated."""
    strength = evidence_strength(observations, permuted_orders=2)
    assert strength.clean_runs == clean
    assert strength.failure_rate_upper_bound is None
    assert strength.clean_runs_needed is None
    assert strength.sentence == (
        "with 2 seeded shuffles (the reversed order aside), a single-polluter order dependence had a 25.0% chance"
        " of going unseen"
    )


def test_evidence_strength_counts_one_shuffle_and_one_rerun_in_the_singular() -> None:
    """One seeded shuffle and one clean rerun read as one, not as 'order(s)' or 'rerun(s)'."""
    strength = evidence_strength(runs((ORIGINAL, "F"), (ALONE, ".")), permuted_orders=1)
    assert strength.sentence.startswith("with 1 seeded shuffle (the reversed order aside),")
    assert "never reproduced in 1 rerun, so" in strength.sentence


def test_evidence_strength_of_a_failure_every_run_shows_omits_the_unseen_chance() -> None:
    """A deterministic failure gets no unseen-polluter chance: every run shows it, so it means nothing."""
    strength = evidence_strength(runs((ORIGINAL, "F"), (ALONE, "FFF")), permuted_orders=2, can_go_unseen=False)
    assert strength.sentence == ""


def test_evidence_strength_without_the_unseen_chance_keeps_the_clean_run_record() -> None:
    """Without the unseen-polluter chance, a never-reproduced failure still states its clean-run bound."""
    strength = evidence_strength(runs((ORIGINAL, "F"), (ALONE, "...")), permuted_orders=2, can_go_unseen=False)
    assert strength.sentence.startswith("the failure never reproduced in 3 reruns")
