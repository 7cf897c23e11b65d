"""The library beneath the scripts at the project root: one job per module (docs/code.md)."""
import os

# The project folder (the scripts', models/original/'s and setup_env.sh's), wherever the user runs from.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
