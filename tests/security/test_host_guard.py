"""The suite's host guard itself: a call into the simulated node that changes the host is seen, and
the judge fails its case with the case and the change named (counted apart from the suite's totals)."""

import os

from hostile import MARKER, Tally, judge


def test_a_host_change_fails_the_case_that_made_it(sim):
    def escape():
        with open(MARKER, "w", encoding="utf-8"):
            pass

    try:
        _outcome, changes = sim.guarded("an escaping case", escape)
    finally:
        os.unlink(MARKER)
    assert changes == ["%s appeared" % MARKER]
    assert sim.take_host_log() == [("an escaping case", changes)]
    tally = Tally()
    answer = {"result": {"changed": False}, "host_changed": changes}
    problems = judge("nexcage_container hostname='x'", answer, ["hostname"], tally=tally)
    assert problems == ["nexcage_container hostname='x': the run changed the host: %s appeared" % MARKER]
    assert tally.counts["cases"] == 1 and tally.counts["escapes"] == 1


def test_a_quiet_call_changes_nothing(sim):
    _outcome, changes = sim.guarded("a quiet call", lambda: None)
    assert changes == []
