"""The profile summary counts only the event loop's thread, by self and inclusive frame."""
from benchmarks.loop_profile import top_frames

RAW = """thread (0x1): MainThread;run (a.py:1);check (b.py:5) 30
thread (0x1): MainThread;run (a.py:2);parse (b.py:9) 10
thread (0x1): MainThread 4
thread (0x2): ThreadPoolExecutor-0_0;_worker (thread.py:3);fsync (w.py:1) 99
"""


def test_top_frames_counts_the_main_thread_by_self_and_inclusive_frame():
    total, own, inclusive = top_frames(RAW)
    assert total == 40  # the worker's samples and the frameless one are left out
    assert own == {"check (b.py)": 30, "parse (b.py)": 10}
    assert inclusive["run (a.py)"] == 40  # line numbers dropped: one frame per function
    assert "fsync (w.py)" not in inclusive
