"""Evaluation protocols for pretrained skeleton encoders.

KNN (:mod:`~skelssl.protocols.knn`), linear evaluation
(:mod:`~skelssl.protocols.linear`), fine-tuning
(:mod:`~skelssl.protocols.finetune`), semi-supervised evaluation on published
label splits (:mod:`~skelssl.protocols.semi`), the random-initialisation floor
(:mod:`~skelssl.protocols.random_init`), multi-stream ensembles
(:mod:`~skelssl.protocols.ensemble`) and t-SNE maps
(:mod:`~skelssl.protocols.tsne`). Every protocol writes ``results.json`` and
its test scores (:mod:`~skelssl.protocols.results`). The command line is
``skelssl evaluate`` / ``skelssl ensemble``.
"""

from skelssl.protocols.classifier import EncoderClassifier
from skelssl.protocols.ensemble import combine_scores, ensemble
from skelssl.protocols.features import Features, FeatureDataset, ViewEncoder, extract_features, joint_input
from skelssl.protocols.finetune import FineTuneClassifier, run_finetune
from skelssl.protocols.knn import knn_accuracy, knn_evaluate, knn_scores, run_knn
from skelssl.protocols.linear import LinearProbe, run_linear
from skelssl.protocols.results import EvalContext, classification_metrics, confusion_matrix, write_results
from skelssl.protocols.semi import labeled_subset, run_semi
from skelssl.protocols.tsne import plot_tsne, run_tsne

__all__ = [
    "EncoderClassifier",
    "LinearProbe",
    "FineTuneClassifier",
    "Features",
    "FeatureDataset",
    "ViewEncoder",
    "joint_input",
    "extract_features",
    "knn_scores",
    "knn_evaluate",
    "knn_accuracy",
    "run_knn",
    "run_linear",
    "run_finetune",
    "labeled_subset",
    "run_semi",
    "combine_scores",
    "ensemble",
    "plot_tsne",
    "run_tsne",
    "EvalContext",
    "classification_metrics",
    "confusion_matrix",
    "write_results",
]
