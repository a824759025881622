"""The edge never imports TensorFlow or Keras: it runs with them blocked, and leaves them out where installed."""

import subprocess
import sys

from tests.edge.helpers import REPO, edge_env

HEAVY = ("tensorflow", "keras", "tf_keras")  # top-level names; tensorflow_* / keras_* companions count too

BLOCK_AND_RUN = r"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):
            raise ImportError('blocked by test: ' + name)
sys.meta_path.insert(0, Block())
from edge.__main__ import main
codes = [main(sys.argv[1:] + ['--detector', d]) for d in ('haar', 'mediapipe')]
print('exit codes', codes)
sys.exit(max(codes))
"""

# No import blocked here: the dev venv has TensorFlow installed, so an edge import of it would succeed and show up.
IMPORT_ALL_AND_RUN = r"""
import importlib, importlib.util, pkgutil, sys
import edge
heavy = tuple(sys.argv[1].split(','))
modules = sorted(m.name for m in pkgutil.walk_packages(edge.__path__, 'edge.') if not m.name.endswith('.__main__'))
for name in modules:
    importlib.import_module(name)
print('imported', len(modules), 'edge modules')
from edge.__main__ import main
code = main(sys.argv[2:])
loaded = sorted(m for m in sys.modules if m.split('.')[0].startswith(heavy))
print('tensorflow installed:', importlib.util.find_spec('tensorflow') is not None)
print('heavy modules:', loaded)
sys.exit(code or (3 if loaded else 0))
"""

SPY_AND_RUN = r"""
import sys
heavy = tuple(sys.argv[1].split(','))
from edge.__main__ import main
code = main(sys.argv[2:])
loaded = sorted(m for m in sys.modules if m.split('.')[0].startswith(heavy))
print('heavy modules:', loaded)
sys.exit(code or (3 if loaded else 0))
"""


def run_script(script, *args):
    return subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, env=edge_env(),
                          capture_output=True, text=True, timeout=120)


def test_pipeline_runs_with_tensorflow_blocked(emotion_model, face_model, tmp_path):
    """As in an edge venv without TensorFlow: both detectors run with tensorflow/keras not importable."""
    args = ["--source", "demo", "--max-frames", "15", "--model", str(emotion_model), "--out", str(tmp_path)]
    done = run_script(BLOCK_AND_RUN, *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "exit codes [0, 0]" in done.stdout
    assert done.stdout.count("summary: frames=15") == 2


def test_edge_modules_and_classification_leave_tensorflow_out(emotion_model, tmp_path):
    """Every edge module imported, then a short classification run: no tensorflow/keras module gets loaded."""
    args = ["--source", "demo", "--max-frames", "5", "--model", str(emotion_model), "--detector", "haar",
            "--out", str(tmp_path)]
    done = run_script(IMPORT_ALL_AND_RUN, ",".join(HEAVY), *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "summary: frames=5" in done.stdout and "faces=0" not in done.stdout  # faces were classified
    assert "heavy modules: []" in done.stdout


def test_tensorflow_not_loaded_even_when_installed(emotion_model, face_model, tmp_path):
    """mediapipe imports tensorflow opportunistically; the edge keeps it out (seconds and ~300 MB)."""
    args = ["--source", "demo", "--max-frames", "5", "--model", str(emotion_model), "--detector", "mediapipe",
            "--out", str(tmp_path)]
    done = run_script(SPY_AND_RUN, ",".join(HEAVY), *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "heavy modules: []" in done.stdout
