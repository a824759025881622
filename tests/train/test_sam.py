"""Sharpness-aware steps: one step lands where the SAM update rule says, not where plain SGD would, and a
model trained with them still saves and loads as a plain Keras model."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from train.sam import climb, make_sharpness_aware  # noqa: E402

RHO = 0.5
LEARNING_RATE = 0.1
FACES, FEATURES, CLASSES = 16, 5, 3


def tiny_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((FEATURES,))
    outputs = keras.layers.Dense(CLASSES, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(FACES, FEATURES)).astype("float32")
    return x, np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, FACES)]


def gradients_at(model: keras.Model, weights: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    model.set_weights(weights)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


def one_step(model: keras.Model, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    model.fit(x, y, batch_size=FACES, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def test_climb_has_length_rho_along_the_gradient():
    gradients = [tf.constant([3.0, 0.0]), tf.constant([[4.0]])]
    steps = climb(gradients, RHO)
    assert np.isclose(float(tf.linalg.global_norm(steps)), RHO)
    np.testing.assert_allclose(steps[0].numpy(), [0.3, 0.0], rtol=1e-6)
    assert np.all(np.isfinite(climb([tf.zeros(3)], RHO)[0].numpy()))


def test_one_step_follows_the_gradient_at_the_climbed_weights():
    x, y = batch()
    reference = tiny_model()
    start = reference.get_weights()
    plain = one_step(tiny_model(), x, y)

    model = tiny_model()
    make_sharpness_aware(model, RHO)
    stepped = one_step(model, x, y)

    g0 = gradients_at(reference, start, x, y)
    norm = np.sqrt(sum(float((g ** 2).sum()) for g in g0))
    climbed = [w + RHO * g / norm for w, g in zip(start, g0)]
    g1 = gradients_at(reference, climbed, x, y)
    expected = [w - LEARNING_RATE * g for w, g in zip(start, g1)]
    for got, want in zip(stepped, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert max(float(np.abs(a - b).max()) for a, b in zip(stepped, plain)) > 1e-4  # not a plain step


def test_a_sharpness_aware_model_saves_as_a_plain_keras_model(tmp_path):
    x, y = batch()
    model = tiny_model()
    make_sharpness_aware(model, RHO)
    one_step(model, x, y)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded) is type(tiny_model())
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
