"""The edge never imports TensorFlow or Keras: the whole pipeline runs with them blocked."""

import subprocess
import sys

from tests.edge.helpers import REPO, edge_env

BLOCK_AND_RUN = r"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):
            raise ImportError('blocked by test: ' + name)
sys.meta_path.insert(0, Block())
from edge.__main__ import main
codes = [main(sys.argv[1:] + ['--detector', d]) for d in ('haar', 'mediapipe')]
assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]
print('exit codes', codes)
sys.exit(max(codes))
"""

SPY_AND_RUN = r"""
import sys
from edge.__main__ import main
code = main(sys.argv[1:])
loaded = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'tf_keras'})
print('heavy modules:', loaded)
sys.exit(code or (3 if loaded else 0))
"""


def test_pipeline_runs_with_tensorflow_blocked(emotion_model, face_model, tmp_path):
    args = ["--source", "demo", "--max-frames", "15", "--model", str(emotion_model), "--out", str(tmp_path)]
    done = subprocess.run([sys.executable, "-c", BLOCK_AND_RUN, *args], cwd=REPO, env=edge_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "exit codes [0, 0]" in done.stdout
    assert done.stdout.count("summary: frames=15") == 2


def test_tensorflow_not_loaded_even_when_installed(emotion_model, face_model, tmp_path):
    """mediapipe imports tensorflow opportunistically; the edge keeps it out (seconds and ~300 MB)."""
    args = ["--source", "demo", "--max-frames", "5", "--model", str(emotion_model), "--detector", "mediapipe",
            "--out", str(tmp_path)]
    done = subprocess.run([sys.executable, "-c", SPY_AND_RUN, *args], cwd=REPO, env=edge_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "heavy modules: []" in done.stdout
