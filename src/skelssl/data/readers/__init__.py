"""Dataset readers. Importing this package registers every built-in reader."""

from skelssl.data.readers.base import DatasetReader, get_reader, list_readers, register_reader

# Built-in readers register themselves on import (one line each).
from skelssl.data.readers import nucla  # noqa: E402,F401
from skelssl.data.readers import ntu  # noqa: E402,F401
from skelssl.data.readers import synthetic  # noqa: E402,F401
from skelssl.data.readers import pkummd  # noqa: E402,F401
from skelssl.data.readers import kinetics  # noqa: E402,F401
from skelssl.data.readers import custom  # noqa: E402,F401
from skelssl.data.readers import kinect_v1  # noqa: E402,F401

__all__ = ["DatasetReader", "get_reader", "list_readers", "register_reader"]
