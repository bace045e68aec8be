def register_transformers(quiet=False):
    return False
