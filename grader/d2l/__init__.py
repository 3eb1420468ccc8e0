"""The d2l layout's side of the sandbox child: ``harness.py``, the only file of this folder,
is loaded by path into the d2l parts' children (it is readable there; nothing secret in it)."""
