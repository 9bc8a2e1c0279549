import pytest
import torch

from skelssl.data.layouts import get_layout
from skelssl.data.views import VIEWS, bone, bone_motion, motion, to_view


def test_motion_by_hand():
    # One channel, 3 frames, 1 joint, 1 person: positions 1, 4, 9 -> motion 3, 5, 0.
    x = torch.tensor([1.0, 4.0, 9.0]).view(1, 1, 3, 1, 1)
    assert motion(x).flatten().tolist() == [3.0, 5.0, 0.0]


def test_bone_by_hand_ntu():
    lay = get_layout("ntu25")
    x = torch.zeros(3, 2, 25, 1)
    x[0, :, :, 0] = torch.arange(25.0)  # x-coordinate = joint index, every frame
    b = bone(x, lay)
    # Joint 4 (left shoulder) hangs off spine_shoulder (20): 4 - 20 = -16.
    assert b[0, 0, 4, 0] == -16
    # The centre (spine_shoulder) has no bone.
    assert b[0, 0, 20, 0] == 0
    # hand_tip_left (21) -> thumb_left (22): -1.
    assert b[0, 0, 21, 0] == -1
    assert torch.equal(b[1:], torch.zeros_like(b[1:]))


@pytest.mark.parametrize("name", ["ntu25", "kinect20", "openpose18"])
def test_views_shapes_batched_and_single(name):
    lay = get_layout(name)
    x = torch.randn(4, 3, 7, lay.num_joints, 2)
    for view in VIEWS:
        y = to_view(x, view, lay)
        assert y.shape == x.shape
        # The unbatched sample gives the same as its slice of the batch.
        torch.testing.assert_close(to_view(x[1], view, lay), y[1])
    torch.testing.assert_close(bone_motion(x, lay), motion(bone(x, lay)))
    # Bones are translation invariant; motion is invariant to a constant offset.
    shifted = x + torch.tensor([1.0, -2.0, 3.0]).view(1, 3, 1, 1, 1)
    torch.testing.assert_close(bone(shifted, lay), bone(x, lay))
    torch.testing.assert_close(motion(shifted), motion(x))


def test_bad_view_and_joint_count():
    with pytest.raises(ValueError, match="unknown view"):
        to_view(torch.zeros(1, 3, 2, 25, 1), "speed", "ntu25")
    with pytest.raises(ValueError, match="has 20 joints"):
        bone(torch.zeros(1, 3, 2, 20, 1), "ntu25")
