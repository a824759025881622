"""Training curves of a warm-restarted run follow its lineage back through run.json."""

import json

from train.plots import plot_curves, read_histories

HEADER = "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n"


def write_history(path, epochs, acc):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{e},{acc + e / 100},0.01,1.0,{acc},1.1\n" for e in range(epochs))
    path.write_text(HEADER + rows)
    return path


def test_histories_of_consecutive_stages_run_on_with_restarts_marked(tmp_path):
    first = write_history(tmp_path / "a" / "history.csv", 3, 0.5)
    second = write_history(tmp_path / "b" / "history.csv", 2, 0.6)
    rows, restarts = read_histories([first, second])
    assert [float(r["val_accuracy"]) for r in rows] == [0.5, 0.5, 0.5, 0.6, 0.6]
    assert restarts == [4]
    plot_curves([first, second], tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_chain_follows_init_from_through_run_json(tmp_path):
    from train.reports import history_chain

    a = write_history(tmp_path / "a" / "history.csv", 3, 0.5)
    b = write_history(tmp_path / "b" / "history.csv", 2, 0.6)
    c = write_history(tmp_path / "c" / "history.csv", 2, 0.7)
    (tmp_path / "a" / "run.json").write_text(json.dumps({"init_from": None}))
    (tmp_path / "b" / "run.json").write_text(json.dumps({"init_from": str(tmp_path / "a" / "last.keras")}))
    assert history_chain(tmp_path / "c", tmp_path / "b" / "last.keras") == [a, b, c]
    assert history_chain(tmp_path / "c", None) == [c]
    # a source that points back at the run itself must not loop
    (tmp_path / "a" / "run.json").write_text(json.dumps({"init_from": str(tmp_path / "b" / "last.keras")}))
    assert history_chain(tmp_path / "c", tmp_path / "b" / "last.keras") == [a, b, c]


def test_a_one_epoch_run_draws_its_figures(tmp_path, monkeypatch):
    """One epoch is one point per series, which a line without markers does not draw: the smoke run's curves were
    empty axes with a legend."""
    import train.plots

    figures = []
    monkeypatch.setattr(train.plots.plt, "close", figures.append)
    plot_curves(write_history(tmp_path / "one" / "history.csv", 1, 0.5), tmp_path / "one.png")
    series = [line for ax in figures[0].axes for line in ax.lines if len(line.get_xdata()) == 1]
    assert len(series) == 4  # train and validation, accuracy and loss
    assert all(line.get_marker() not in (None, "None", "", " ") for line in series)
    plot_curves(write_history(tmp_path / "two" / "history.csv", 2, 0.5), tmp_path / "two.png")
    assert all(line.get_marker() in (None, "None", "") for ax in figures[1].axes for line in ax.lines)
