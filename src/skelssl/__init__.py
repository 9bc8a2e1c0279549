"""skelssl: self- and semi-supervised learning of skeleton action representations."""

__version__ = "0.1.0"
