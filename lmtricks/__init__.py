__version__ = "0.1.0"

# Importing any part of lmtricks registers every built-in, whatever is imported first: these modules add entries to
# registries that live in other modules (attention backends to lmtricks.model, LR schedules to lmtricks.train).
# Keep this list to modules whose imports are light (no datasets, papermill, matplotlib or transformers at import).
from . import attention as _attention, curricula as _curricula  # noqa: E402,F401
