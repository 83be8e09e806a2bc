"""The interleaved timing loop rotates its order every round, so no contender always follows the same one."""
from styleforge.runtime.latency import _run_interleaved, rotated


def test_rotated_cycles_every_key_through_every_position():
    keys = ["a", "b", "c"]
    firsts = [rotated(keys, r)[0] for r in range(3)]
    assert firsts == ["a", "b", "c"]
    assert all(sorted(rotated(keys, r)) == keys for r in range(5))
    assert rotated([], 3) == []


def test_run_interleaved_rotates_and_times_each_callable_runs_times():
    calls = []
    fns = {k: (lambda k=k: calls.append(k) or 0) for k in "xyz"}
    _, times = _run_interleaved(dict(fns), runs=3, warmup=1, errors={})
    assert {k: len(v) for k, v in times.items()} == {"x": 3, "y": 3, "z": 3}
    rounds = calls[3:]  # after the one untimed first call each
    pairs = [rounds[i] for i in range(0, len(rounds), 2)]  # each round: untimed + timed call per key
    assert pairs == ["x", "y", "z", "y", "z", "x", "z", "x", "y"]
