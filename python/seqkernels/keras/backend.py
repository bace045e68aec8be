"""``seqkernels.keras.backend``: clear_session (automatic layer names restart)."""
from .engine import clear_session

__all__ = ["clear_session"]
