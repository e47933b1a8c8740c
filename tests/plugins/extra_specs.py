"""A hook specification a test plugin adds through ``trainer_addhooks``."""

from trainer.hookspecs import hookspec


@hookspec
def trainer_example_extra(value):
    """An example hook a test plugin adds; returns ``value`` doubled."""
