"""The built-in synthetic skeleton action dataset.

A procedural generator of Kinect-like 3D skeleton sequences, used as the
library's embedded default (``skelssl run`` pretrains on it) and by the tests.
See ``docs/synthetic.md`` for the full description; in short:

* **Kinematics.** One 25-joint (Kinect v2 / NTU) skeleton driven by forward
  kinematics: every bone has a rest offset scaled by the subject's body
  proportions and a local rotation built from joint-angle trajectories
  (trunk bend/twist, shoulder elevation/plane/rotation, elbow, wrist, hip,
  knee, ankle), so bone lengths are exactly constant before sensor noise.
  The feet are kept on the floor (the lowest foot joint sets the pelvis
  height) and the stance foot is anchored (no sliding). The ``kinect20``
  layout takes 20 of the same joints (:data:`KINECT20_FROM_NTU25`), so a
  ``kinect20`` sample is exactly the ``ntu25`` sample with the hand tips,
  thumbs and the neck joint left out.
* **Classes.** Up to 15 actions made of distinct body-part motions
  (:data:`CLASS_NAMES`); ``num_classes`` takes the first K.
* **Variation.** Per subject (20 virtual subjects): bone-length scales,
  posture, preferred speed and amplitude. Per sample: speed, amplitude,
  phase, onset/offset, idle fidgeting, camera yaw/pitch/distance/height,
  sequence length, sensor noise, tracking glitches, dropped frames and an
  optional second person (interacting partner or bystander).
* **Coordinates.** Camera space like the Kinect SDK: metres, y up, z the
  depth from the sensor (the actor stands about 2-4 m away).
* **Dropped frames** are *missing*: ``present`` False and zeros, for every
  body of that frame (the sensor lost the whole frame); their number is in
  ``extra["dropped_frames"]``.
* **Determinism.** Every random number is a counter-based hash of
  ``(seed, stream, sample index, ...)``, so a sample depends only on the seed,
  the options and its index: not on how samples are grouped into chunks or
  how many workers generate them.

``difficulty`` (0..1, default 0.5) is the one knob for how hard the task is.
It scales together (full table in ``docs/synthetic.md``):

* subject spread: height (sd 6 %) and segment lengths (sd 5 %), standing
  posture, preferred speed and amplitude, all x (0.5 + difficulty);
* per-sample style: speed x/÷ (1 + 1.2 d), amplitude 1 - 0.7 d .. 1 + 0.2 d,
  idle time before/after the action, and how the action is performed (arm
  height, plane, kick direction, punch or hook ...);
* idle fidgeting (head turns, arm drift, weight shifts);
* camera yaw jitter +-(5 + 15 d) deg around each camera's centre and body
  yaw +-30 d deg;
* sensor noise sigma = 3 mm + 17 mm x d per coordinate (x1.5 at hands, feet
  and head) and single-frame extremity glitches (6 cm);
* confusability: each sample also performs its class's *confuser* motion
  (one-hand wave -> two-hand wave, squat <-> bow, punch <-> clap, ...) at up
  to min(0.85, 1.5 d) of its own amplitude, and a random third motion at up
  to min(0.6, 0.9 d). Both are scaled below the labelled motion's own
  amplitude, so harder never means mislabelled.

Calibration (10 classes, 2000 samples, mean over seeds 0, 1, 2; chance 10 %).
Features: the actor's present frames resampled to 16, centred on the first
frame's spine base, flattened (1200 numbers). "Ridge" is a least-squares
linear classifier on standardised features; "1D-CNN" a 3-layer temporal
convolution net trained with random-yaw augmentation (seed 0 only; range
over checkpoints at epochs 20/40/60), to show the headroom a learned
representation has::

                     xsub                            xview
    difficulty   centroid  ridge  1D-CNN        centroid  ridge
    0.2          88 %      98 %   90-100 %      73 %      93 %
    0.5          62 %      67 %   85-87 %       46 %      59 %
    0.8          45 %      44 %   67-69 %       36 %      39 %

So at the default a linear classifier on raw coordinates is far above
chance yet far from solved, leaving room for representation learning.
"""

from skelssl.data.synthetic.config import (
    CLASS_NAMES,
    FPS,
    KINECT20_FROM_NTU25,
    LAYOUTS,
    MAX_CLASSES,
    SyntheticConfig,
    class_names,
    sample_design,
    xsub_train_subjects,
)
from skelssl.data.synthetic.generation import VIEW_YAW_DEG, generate, generate_dataset
from skelssl.data.synthetic.kinematics import DOF_NAMES

__all__ = [
    "CLASS_NAMES",
    "MAX_CLASSES",
    "FPS",
    "KINECT20_FROM_NTU25",
    "VIEW_YAW_DEG",
    "SyntheticConfig",
    "class_names",
    "sample_design",
    "xsub_train_subjects",
    "generate",
    "generate_dataset",
    "LAYOUTS",
    "DOF_NAMES",
]
