"""The SPSC ring buffer: wraparound, full/empty, flush, absolute counters, and a model check."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from voxtray.core.audio.ringbuffer import RingBuffer


def ramp(start: int, n: int) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float32)


def test_capacity_is_a_power_of_two() -> None:
    assert RingBuffer(1000).capacity == 1024
    assert RingBuffer(1024).capacity == 1024
    assert RingBuffer(1).capacity == 1
    with pytest.raises(ValueError, match="at least one frame"):
        RingBuffer(0)


def test_empty_and_full() -> None:
    ring = RingBuffer(8)
    out = np.full(8, -1.0, dtype=np.float32)
    assert ring.read_available == 0 and ring.write_available == 8
    assert ring.read_into(out) == 0
    assert (out == -1).all(), "an empty read leaves the output untouched"
    assert ring.write(ramp(0, 10)) == 8, "only what fits is taken"
    assert ring.write_available == 0 and ring.read_available == 8
    assert ring.write(ramp(0, 1)) == 0
    assert ring.read_into(out) == 8
    assert out.tolist() == list(range(8))


def test_wraparound_keeps_order() -> None:
    ring = RingBuffer(8)
    out = np.zeros(8, dtype=np.float32)
    assert ring.write(ramp(0, 6)) == 6
    assert ring.read_into(out[:5]) == 5
    assert ring.write(ramp(6, 7)) == 7  # slots 6, 7 then 0..4: wraps
    assert ring.read_available == 8
    assert ring.read_into(out) == 8
    assert out.tolist() == list(range(5, 13))
    assert ring.frames_written == 13 and ring.frames_read == 13


def test_partial_read_leaves_the_rest_of_out_alone() -> None:
    ring = RingBuffer(8)
    ring.write(ramp(1, 3))
    out = np.full(6, 9.0, dtype=np.float32)
    assert ring.read_into(out) == 3
    assert out.tolist() == [1, 2, 3, 9, 9, 9]


def test_backpressure_space_comes_back_as_the_consumer_reads() -> None:
    ring = RingBuffer(4)
    assert ring.write(ramp(0, 4)) == 4
    assert ring.write_available == 0
    ring.read_into(np.zeros(3, dtype=np.float32))
    assert ring.write_available == 3
    assert ring.write(ramp(4, 5)) == 3
    out = np.zeros(4, dtype=np.float32)
    assert ring.read_into(out) == 4
    assert out.tolist() == [3, 4, 5, 6]


def test_flush_is_applied_by_the_consumer_at_its_next_read() -> None:
    ring = RingBuffer(16)
    ring.write(ramp(0, 10))
    ring.request_flush()
    assert ring.frames_read == 0, "the producer never moves the read index"
    assert ring.read_available == 10
    ring.write(ramp(10, 3))
    out = np.zeros(16, dtype=np.float32)
    assert ring.read_into(out) == 3, "what came after the flush request survives"
    assert out[:3].tolist() == [10, 11, 12]
    assert ring.frames_read == 13


def test_flush_to_a_position_and_late_flushes_do_not_rewind() -> None:
    ring = RingBuffer(16)
    ring.write(ramp(0, 10))
    out = np.zeros(16, dtype=np.float32)
    ring.read_into(out[:6])
    ring.request_flush(4)  # already read past it: nothing happens
    ring.apply_flush()
    assert ring.frames_read == 6
    ring.request_flush(8)
    assert ring.read_into(out) == 2
    assert out[:2].tolist() == [8, 9]
    ring.request_flush(100)  # beyond what was written: clamped
    ring.apply_flush()
    assert ring.frames_read == 10


def test_counters_are_absolute_across_many_wraps() -> None:
    ring = RingBuffer(4)
    out = np.zeros(3, dtype=np.float32)
    for i in range(0, 300, 3):
        assert ring.write(ramp(i, 3)) == 3
        assert ring.read_into(out) == 3
        assert out.tolist() == [i, i + 1, i + 2]
    assert ring.frames_written == ring.frames_read == 300


ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 40)),
        st.tuples(st.just("read"), st.integers(0, 40)),
        st.tuples(st.just("flush"), st.integers(0, 10)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(capacity=st.sampled_from([1, 2, 8, 16, 32]), ops=ops)
def test_matches_a_simple_fifo_model(capacity: int, ops: list[tuple[str, int]]) -> None:
    ring = RingBuffer(capacity)
    model: deque[float] = deque()
    model_read = 0
    next_value = 0
    pending_flush = 0
    for op, n in ops:
        if op == "write":
            data = ramp(next_value, n)
            taken = ring.write(data)
            assert taken == min(n, capacity - len(model))
            model.extend(data[:taken].tolist())
            next_value += taken
        elif op == "read":
            # the consumer applies a pending flush first
            while model_read < pending_flush:
                model.popleft()
                model_read += 1
            out = np.full(n, -1.0, dtype=np.float32)
            got = ring.read_into(out)
            expected = [model.popleft() for _ in range(min(n, len(model)))]
            model_read += len(expected)
            assert got == len(expected)
            assert out[:got].tolist() == expected
            assert (out[got:] == -1).all()
        else:
            target = ring.frames_written - min(n, ring.frames_written)
            ring.request_flush(target)
            pending_flush = max(pending_flush, target)
        assert ring.frames_written == next_value
        assert ring.frames_written - ring.frames_read == ring.read_available
        assert 0 <= ring.read_available <= capacity
        assert ring.write_available == capacity - ring.read_available
