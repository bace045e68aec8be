"""``seqkernels.keras.callbacks``: EarlyStopping, ModelCheckpoint, LearningRateScheduler, CSVLogger, History."""
from ..callbacks import *  # noqa: F401,F403
from ..callbacks import __all__  # noqa: F401
