"""Numba kernels: pure array code on C-contiguous float64 arrays.

Nothing here validates input or raises user-facing errors; the callers in
:mod:`skgmmot.ot` and the estimators do that before calling a kernel. Every
kernel compiles lazily on first call and is cached on disk when possible.
"""
