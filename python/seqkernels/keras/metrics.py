"""``seqkernels.keras.metrics``: the metrics ``compile(metrics=[...])`` takes by name or object."""
from ..metrics import *  # noqa: F401,F403
from ..metrics import __all__  # noqa: F401
