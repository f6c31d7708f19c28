"""keras_drifa._progress: live bars on terminals and in notebooks, plain lines in logs."""

from keras_drifa import _progress


def test_auto_is_a_live_bar_only_where_one_can_be_drawn(monkeypatch, capsys):
    monkeypatch.setattr(_progress, "interactive", lambda: False)
    bar = _progress.progress_bar(3, "auto", "pass")
    assert bar.verbose == 2
    for _ in range(3):
        bar.add(1)
    out = capsys.readouterr().out
    # One plain line at the end: no carriage returns or backspaces that fill a log file.
    assert out.count("\n") == 1 and "\r" not in out and "\b" not in out and "3/3" in out
    monkeypatch.setattr(_progress, "interactive", lambda: True)
    assert _progress.progress_bar(3, "auto").verbose == 1
    assert _progress.progress_bar(3, 0) is None
    assert _progress.progress_bar(3, 1).verbose == 1
