"""The investigation's bookkeeping: what it keeps of each run for the searches."""

from __future__ import annotations

from test_pipeline import SUITE, FakeExecutor, settings

from flakehound.engine.investigation import Investigation, Silent
from flakehound.models import RunPurpose


def _investigation(executor: FakeExecutor) -> Investigation:
    """Bookkeeping over the fake suite, every test followed (as before the shuffled orders choose)."""
    return Investigation(
        settings=settings(),
        executor=executor,
        progress=Silent(),
        durations=dict.fromkeys(SUITE, 0.1),
        tracked=set(SUITE),
    )


def test_runs_kept_for_the_searches_hold_only_the_followed_tests():
    """Once the followed tests are chosen, kept runs carry only their results (a whole run is MBs).

    Runs made before and after the choice alike; a search is still served the victim's outcome.
    """
    executor = FakeExecutor(lambda nodeid, before: nodeid == SUITE[3] and SUITE[0] in before)
    investigation = _investigation(executor)
    investigation.execute(SUITE, RunPurpose.PERMUTED, 1)
    investigation.focus([SUITE[3]])
    investigation.execute(SUITE[:4], RunPurpose.ORIGINAL_ORDER)

    kept = {order: [[r.nodeid for r in run.results] for run in runs] for order, runs in investigation.runs_of.items()}
    assert kept == {SUITE: [[SUITE[3]]], SUITE[:4]: [[SUITE[3]]]}
    search = investigation.searches()()
    ((result,),) = (run.results for run in search([SUITE[:4]]))
    assert result.outcome.is_failure
    assert len(executor.requests) == 2  # the search was served the kept run, not a new one
