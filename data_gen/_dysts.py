"""dysts, imported without its one import-time warning ("Numba not installed. Falling back to
no JIT compilation."): library code is quiet, and without numba dysts runs its plain Python.

The import takes about 2 s; import this module where dysts is needed, not at the top of a module:
``from data_gen._dysts import dysts`` (``dysts.base``, ``dysts.flows`` and ``dysts.systems`` loaded).
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
    import dysts
    import dysts.base
    import dysts.flows
    import dysts.systems

__all__ = ["dysts"]
