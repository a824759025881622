"""A resumed run gets a fresh shuffle order; a fresh run stays reproducible."""

import keras
import numpy as np


def test_a_resumed_run_gets_a_new_shuffle_order_and_a_fresh_run_keeps_its_own():
    from train.augment import AugmentConfig
    from train.config import TrainConfig
    from train.data import Split
    from train.fit import data_seed, make_datasets

    rng = np.random.default_rng(1)
    split = Split("train", rng.integers(0, 256, (64, 48, 48, 1), dtype=np.uint8), rng.integers(0, 7, 64))
    config = TrainConfig(batch_size=16)

    def first_batch(seed):
        keras.utils.set_random_seed(seed)  # as fit() does
        train_ds, _ = make_datasets(split, split, config, AugmentConfig(), seed)
        return next(iter(train_ds))[1].numpy().argmax(1)  # the shuffled order (the labels of the first batch)

    assert data_seed(42, 0) == 42  # a fresh run keeps its seed
    np.testing.assert_array_equal(first_batch(data_seed(42, 0)), first_batch(data_seed(42, 0)))
    assert not np.array_equal(first_batch(data_seed(42, 0)), first_batch(data_seed(42, 6)))


def test_early_stopping_patience_and_its_stop_survive_a_resume(tmp_path):
    """The resume state carries early stopping's count; a resumed run continues it (Keras alone would start
    over), and a run it stopped resumes as finished."""
    import json

    from train.config import TrainConfig
    from train.fit import ResumableEarlyStopping, ResumeState, prepare_model

    config = TrainConfig(epochs=10, width=4, dense_units=8, patience=2)
    model, _, _ = prepare_model(tmp_path, config, resume=False)
    early = ResumableEarlyStopping(config.patience)
    state = ResumeState(tmp_path, 0.0, early)
    for callback in (early, state):
        callback.set_model(model)
    early.on_train_begin()
    for epoch, accuracy in enumerate((0.5, 0.4)):  # one epoch without improvement
        early.on_epoch_end(epoch, {"val_accuracy": accuracy})
        state.on_epoch_end(epoch, {"val_accuracy": accuracy})
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["patience_used"] == 1 and not saved["stopped_early"]

    resumed, next_epoch, saved = prepare_model(tmp_path, config, resume=True)
    early = ResumableEarlyStopping(config.patience, saved["patience_used"], saved["best_val_accuracy"])
    early.set_model(resumed)
    early.on_train_begin()
    early.on_epoch_end(next_epoch, {"val_accuracy": 0.45})  # the second epoch without improvement
    assert next_epoch == 2 and resumed.stop_training
    finisher = ResumeState(tmp_path, saved["best_val_accuracy"], early)
    finisher.set_model(resumed)
    finisher.on_epoch_end(next_epoch, {"val_accuracy": 0.45})
    assert json.loads((tmp_path / "state.json").read_text())["stopped_early"]
    _, after_stop, _ = prepare_model(tmp_path, config, resume=True)
    assert after_stop == config.epochs  # nothing left to train


def test_the_resume_state_comes_before_the_best_checkpoint_and_a_resume_saves_a_pending_one(tmp_path):
    """An epoch's saves: last.keras, state.json (marking model.keras pending when the epoch beat the best), then
    model.keras and state.json again. A run killed before model.keras resumes: the resume saves it from
    last.keras, that epoch's weights, and clears the mark."""
    import json

    import keras

    from train.config import BEST_PENDING, TrainConfig
    from train.fit import ResumableEarlyStopping, ResumeState, prepare_model

    config = TrainConfig(epochs=4, width=4, dense_units=8)
    model, _, _ = prepare_model(tmp_path, config, resume=False)
    saves = ResumeState(tmp_path, None, ResumableEarlyStopping(config.patience))
    saves.set_model(model)
    saves.on_epoch_end(0, {"val_accuracy": 0.5})
    state = json.loads((tmp_path / "state.json").read_text())
    assert BEST_PENDING not in state and (tmp_path / "model.keras").is_file()
    assert (tmp_path / "last.keras").stat().st_mtime_ns <= (tmp_path / "model.keras").stat().st_mtime_ns

    (tmp_path / "model.keras").unlink()  # killed after the state that marks epoch 1's model.keras pending
    (tmp_path / "state.json").write_text(json.dumps({**state, BEST_PENDING: True}))
    resumed, next_epoch, saved = prepare_model(tmp_path, config, resume=True)
    assert next_epoch == 1 and BEST_PENDING not in saved
    assert BEST_PENDING not in json.loads((tmp_path / "state.json").read_text())
    best = keras.models.load_model(tmp_path / "model.keras")
    for ours, theirs in zip(best.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
