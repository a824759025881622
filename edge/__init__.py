"""Edge runtime: capture, detect, track, classify and report emotions without TensorFlow."""
