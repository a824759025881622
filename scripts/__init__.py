"""Measurement scripts behind the model card's figures, run from the repository root as modules
(`python -m scripts.mirror_gain ...`) so they import train/ and edge/ without PYTHONPATH. The shell scripts
beside them (demo.sh, test.sh, install.sh) are not Python and are run with bash."""
