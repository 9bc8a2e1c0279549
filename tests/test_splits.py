import numpy as np
import pytest

from skelssl.data.canonical import read_index_file, write_index_file
from skelssl.data.splits import sample_labeled


def _labels():
    # 3 classes with 100, 10 and 3 samples.
    return np.repeat([0, 1, 2], [100, 10, 3])


def test_fraction_per_class_rounds_with_at_least_one():
    idx = sample_labeled(_labels(), fraction=0.1, seed=0)
    counts = np.bincount(_labels()[idx])
    # round(10.0)=10, round(1.0)=1, round(0.3)=0 -> at least one.
    assert counts.tolist() == [10, 1, 1]
    assert (np.diff(idx) > 0).all()


def test_count_per_class_caps_at_class_size():
    idx = sample_labeled(_labels(), per_class=5, seed=3)
    assert np.bincount(_labels()[idx]).tolist() == [5, 5, 3]


def test_seeded_and_stable_per_class():
    a = sample_labeled(_labels(), per_class=5, seed=1)
    assert np.array_equal(a, sample_labeled(_labels(), per_class=5, seed=1))
    assert not np.array_equal(a, sample_labeled(_labels(), per_class=5, seed=2))
    # Dropping class 2 from the candidates does not change the picks of classes 0 and 1.
    b = sample_labeled(_labels(), per_class=5, seed=1, candidates=np.arange(110))
    assert np.array_equal(b, a[a < 110])


def test_candidates_restrict_the_pool():
    cand = np.arange(0, 113, 2)
    idx = sample_labeled(_labels(), fraction=0.5, seed=0, candidates=cand)
    assert set(idx.tolist()) <= set(cand.tolist())


@pytest.mark.parametrize("kwargs", [{}, {"fraction": 0.1, "per_class": 2}, {"fraction": 0}, {"per_class": 0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        sample_labeled(_labels(), **kwargs)


def test_index_file_round_trip(tmp_path):
    path = tmp_path / "s" / "x.txt"
    write_index_file(path, np.array([3, 1, 4]), {"seed": 7})
    assert path.read_text().splitlines()[0] == "# seed: 7"
    assert read_index_file(path).tolist() == [3, 1, 4]
    path.write_text("1\nnope\n")
    with pytest.raises(ValueError, match=r"x\.txt: line 2: not an integer index"):
        read_index_file(path)


def _write_same_split_repeatedly(path, n):
    for _ in range(n):
        write_index_file(path, np.arange(50))


def test_index_file_written_by_two_processes_at_once(tmp_path):
    """Two semi runs with the same seed write the same split file at the same time.

    A temporary name shared by both processes let one rename the other's file
    away mid-write (FileNotFoundError in a parallel grid); each process now has
    its own, so both finish and the file holds the whole index.
    """
    import multiprocessing as mp

    path = tmp_path / "xview_labeled_15perclass_seed0.txt"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_write_same_split_repeatedly, args=(path, 300)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    assert read_index_file(path).tolist() == list(range(50))
    assert sorted(f.name for f in tmp_path.iterdir()) == [path.name]
